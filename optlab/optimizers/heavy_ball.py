"""Heavy ball (Polyak momentum) in the form of the Aida paper's eqs. (1)-(2).

Update (m_0 = 0)::

    m_t = momentum * m_{t-1} + g_t          (dampening=True: momentum*m + (1-momentum) g)
    x_t = x_{t-1} - lr * m_t                (nesterov=True: x - lr (g_t + momentum m_t))

Symbols -> hyperparameters: gamma (step) -> ``learning_rate``, beta -> ``momentum``,
``l2``: coupled decay g <- g + l2 x (torch's ``weight_decay``).
Static: ``dampening`` (EMA form, equal to the plain form with lr*(1-momentum)),
``nesterov``.
Reference: Polyak (1964); Zhang, Niwa, Kleijn (arXiv:2112.06125) eqs. (1)-(2) with alpha = 1;
docs/optimizers.md#heavy_ball. The plain form equals ``optax.sgd(lr, momentum)`` and
``torch.optim.SGD(momentum=...)``; torch's ``dampening`` differs at t = 1 (it starts the buffer at
g_1 undampened). Departures: none (the Aida paper's alpha, a gradient scale, is 1).
"""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers._common import (
    init_count,
    l2_coupled,
    step_from,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = "Polyak (1964); Zhang et al. arXiv:2112.06125 eqs. (1)-(2)"


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    momentum: float = 0.9
    l2: float = 0.0


class State(NamedTuple):
    count: object
    m: object


def make(dampening: bool = False, nesterov: bool = False) -> Optimizer:
    def init(params, hyper):
        del hyper
        return State(init_count(), zeros_like_tree(params))

    def step(params, grads, state, h):
        b = h.momentum
        grads = l2_coupled(grads, params, h.l2)
        if dampening:
            m = tree_map(lambda m, g: b * m + (1 - b) * g, state.m, grads)
        else:
            m = tree_map(lambda m, g: b * m + g, state.m, grads)
        d = tree_map(lambda g, m: g + b * m, grads, m) if nesterov else m
        return step_from(params, d, h.learning_rate), State(state.count + 1, m)

    static = {"dampening": dampening, "nesterov": nesterov}
    return Optimizer("heavy_ball", init, step, Hyper(), static, REFERENCE)


ENTRY = OptimizerEntry(
    id="heavy_ball",
    make=make,
    summary="Polyak heavy ball m <- beta m + g, x <- x - lr m (arXiv:2112.06125 eqs. 1-2)",
    paper=REFERENCE,
    eps="-",
    decay="l2: coupled (g + l2 x)",
    static_choices={"dampening": (False, True), "nesterov": (False, True)},
    bibtex="""@article{polyak1964some,
  title   = {Some methods of speeding up the convergence of iteration methods},
  author  = {Polyak, Boris T.},
  journal = {USSR Computational Mathematics and Mathematical Physics},
  volume  = {4}, number = {5}, pages = {1--17},
  year    = {1964}
}""",
)
