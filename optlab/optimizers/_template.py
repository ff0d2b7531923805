"""NAME: one line saying what it is (unregistered skeleton: copy to ``<id>.py``).

Paper, algorithm number. Update, t = 1, 2, ... (1-based, docs/optimizers.md#conventions)::

    m_t = ...
    x_t = ...

Symbols -> hyperparameters: eta -> ``learning_rate``, ...
Static options: ...
Departures from the paper: ... (or "none").
"""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers._common import init_count, step_from, tree_map, zeros_like_tree
from optlab.types import Optimizer

REFERENCE = "Author (year), title, Alg. N"


class Hyper(NamedTuple):  # every numeric, sweepable hyperparameter with its default
    learning_rate: float = 1e-3


class State(NamedTuple):
    count: object  # int32 step counter: t after the update
    m: object


def make() -> Optimizer:  # structural options are keyword arguments here
    def init(params, hyper):
        return State(init_count(), zeros_like_tree(params))

    def step(params, grads, state, h):
        m = tree_map(lambda m, g: g, state.m, grads)
        return step_from(params, m, h.learning_rate), State(state.count + 1, m)

    return Optimizer("template", init, step, Hyper(), {}, REFERENCE)


# No ENTRY: files starting with "_" are not registered. A real file defines
# ENTRY = OptimizerEntry(id=..., make=make, summary=..., paper=REFERENCE, eps=..., decay=...,
#                        bibtex=..., bounds=..., static_choices=...,
#                        state_roles={"count": "counter", "v": "nonnegative"},
#                        fixed_point_note=..., symbols={"learning_rate": "η"},
#                        linearisation=...)  # optional: fn(static, hyper, curvatures,
#                        # at_zero_state) -> optlab.linear.ClosedForm | None
