"""Plain gradient descent.

Update: x_t = x_{t-1} - lr * g_t (g_t = grad f(x_{t-1}) + l2 * x_{t-1}).
Symbols -> hyperparameters: eta -> ``learning_rate``, lambda -> ``l2`` (coupled decay, as
``torch.optim.SGD(weight_decay=...)``).
Reference: Robbins & Monro (1951); docs/optimizers.md#sgd. Departures: none.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from optlab.linear import ClosedForm
from optlab.optimizers._common import init_count, l2_coupled, step_from
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = "Robbins & Monro (1951); docs/optimizers.md#sgd"


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    l2: float = 0.0


class State(NamedTuple):
    count: object


def make() -> Optimizer:
    def init(params, hyper):
        del params, hyper
        return State(init_count())

    def step(params, grads, state, h):
        grads = l2_coupled(grads, params, h.l2)
        return step_from(params, grads, h.learning_rate), State(state.count + 1)

    return Optimizer("sgd", init, step, Hyper(), {}, REFERENCE)


def linearisation(static, hyper, curvatures, at_zero_state) -> ClosedForm:
    """Gradient descent on the local quadratic: J = I - lr (Hess f(x*) + l2 I), eigenvalues
    1 - lr (gamma_i + l2); stable for lr < 2 / max(gamma_i + l2)."""
    del static, at_zero_state
    lr = hyper["learning_rate"]
    lam = np.asarray(curvatures, float) + hyper.get("l2", 0.0)
    eta_c = 2 / float(np.max(lam)) if np.max(lam) > 0 else float("inf")
    return ClosedForm(
        "gradient descent: 1 - lr (gamma_i + l2)", (1 - lr * lam).astype(complex), eta_c=eta_c
    )


ENTRY = OptimizerEntry(
    id="sgd",
    make=make,
    summary="gradient descent x <- x - lr g",
    paper=REFERENCE,
    eps="-",
    decay="l2: coupled (g + l2 x)",
    linearisation=linearisation,
    state_roles={"count": "counter"},
    symbols={"learning_rate": "η", "l2": "λ"},
    bibtex="""@article{robbins1951stochastic,
  title   = {A Stochastic Approximation Method},
  author  = {Robbins, Herbert and Monro, Sutton},
  journal = {The Annals of Mathematical Statistics},
  volume  = {22}, number = {3}, pages = {400--407},
  year    = {1951}
}""",
)
