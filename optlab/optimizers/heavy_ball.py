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

import numpy as np

from optlab.linear import ClosedForm, quadratic_roots
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


def linearisation(static, hyper, curvatures, at_zero_state) -> ClosedForm:
    """Per curvature lambda_i = gamma_i + l2 ((1 - b) lambda_i with dampening) the 2x2 block
    of (m, x): the roots of lambda^2 - T lambda + D = 0 with T = 1 + b - lr lambda_i,
    D = b (heavy ball) or T = 1 + b - lr lambda_i (1 + b), D = b (1 - lr lambda_i)
    (Nesterov). Stable for lr < 2 (1 + b) / lambda_max, resp. 2 (1 + b) / ((1 + 2 b)
    lambda_max) (Polyak 1964; the boundary is where a root reaches -1)."""
    del at_zero_state
    lr, b = hyper["learning_rate"], hyper["momentum"]
    lam = np.asarray(curvatures, float) + hyper.get("l2", 0.0)
    if static.get("dampening"):
        lam = (1 - b) * lam
    if static.get("nesterov"):
        T, D = 1 + b - lr * lam * (1 + b), b * (1 - lr * lam)
        name = "Nesterov: lambda^2 - (1 + b - lr g (1 + b)) lambda + b (1 - lr g) = 0"
        eta_c = 2 * (1 + b) / ((1 + 2 * b) * float(np.max(lam)))
    else:
        T, D = 1 + b - lr * lam, b * np.ones_like(lam)
        name = "heavy ball: companion matrix [[b, g], [-lr b, 1 - lr g]] per gamma"
        eta_c = 2 * (1 + b) / float(np.max(lam))
    return ClosedForm(name, quadratic_roots(T, D), eta_c=eta_c)


ENTRY = OptimizerEntry(
    id="heavy_ball",
    make=make,
    summary="Polyak heavy ball m <- beta m + g, x <- x - lr m (arXiv:2112.06125 eqs. 1-2)",
    paper=REFERENCE,
    eps="-",
    decay="l2: coupled (g + l2 x)",
    static_choices={"dampening": (False, True), "nesterov": (False, True)},
    linearisation=linearisation,
    state_roles={"count": "counter"},
    symbols={"learning_rate": "γ", "momentum": "β"},
    bibtex="""@article{polyak1964some,
  title   = {Some methods of speeding up the convergence of iteration methods},
  author  = {Polyak, Boris T.},
  journal = {USSR Computational Mathematics and Mathematical Physics},
  volume  = {4}, number = {5}, pages = {1--17},
  year    = {1964}
}""",
)
