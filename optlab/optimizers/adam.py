"""Adam (Kingma & Ba, ICLR 2015, Algorithm 1).

Update, t = 1, 2, ...::

    m_t = b1 m_{t-1} + (1 - b1) g_t,   v_t = b2 v_{t-1} + (1 - b2) g_t^2
    x_t = x_{t-1} - lr * m_hat_t / (sqrt(v_hat_t) + eps)            (eps_mode "E1")

with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).

Symbols -> hyperparameters: alpha -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps``, ``l2``: coupled decay g <- g + l2 x before the moments (torch's Adam
``weight_decay``; for the decoupled form use ``adamw``).
Static ``eps_mode`` selects where eps goes (docs/optimizers.md#epsilon-placements):
E1 m_hat/(sqrt(v_hat)+eps) (paper Alg. 1, torch, optax); E2 m_hat/sqrt(v_hat+eps);
E3 m_hat/sqrt(v_hat+eps/bc2) (the Aida paper's "Adam"); E4 m_hat/(sqrt(v_hat)+eps/sqrt(bc2))
(Kingma & Ba's "efficient" form, TF1); E5 eps added to the v-EMA every step.
Static ``bias_correction=False`` drops 1 - b^t (the generic Adam of Reddi et al., Thm. 1).
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8. No departures in E1.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from optlab._jax import jnp
from optlab.linear import ClosedForm, theorem2
from optlab.optimizers._common import (
    bias_corrections,
    init_count,
    l2_coupled,
    safe_div,
    step_from,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = "Kingma & Ba (2015), Adam, Algorithm 1"
EPS_MODES = ("E1", "E2", "E3", "E4", "E5")


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    l2: float = 0.0


class State(NamedTuple):
    count: object
    m: object
    v: object


def corrections(count, h, static):
    """(1 - b1^t, 1 - b2^t), or (1, 1) with ``bias_correction=False`` (the generic Adam of
    Reddi et al.'s Theorem 1)."""
    if not static.get("bias_correction", True):
        return 1.0, 1.0
    return bias_corrections(count, h.b1, h.b2)


def adam_moments(state, grads, h, static):
    """The shared m, v update and the direction d of Adam and AdamW."""
    count = state.count + 1
    m = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, grads)
    add = h.eps if static["eps_mode"] == "E5" else 0.0
    v = tree_map(lambda v, g: h.b2 * v + (1 - h.b2) * g * g + add, state.v, grads)
    new = State(count, m, v)
    bc1 = corrections(count, h, static)[0]
    den = denominators(new, h, static)
    return new, tree_map(lambda m, d: safe_div(m / bc1, d), m, den)


def denominators(state, h, static):
    """What the bias-corrected momentum is divided by, per eps placement
    (docs/optimizers.md#epsilon-placements)."""
    _, bc2 = corrections(state.count, h, static)
    eps_mode = static["eps_mode"]

    def den(v):
        v_hat = v / bc2
        if eps_mode == "E1":
            return jnp.sqrt(v_hat) + h.eps
        if eps_mode == "E2":
            return jnp.sqrt(v_hat + h.eps)
        if eps_mode == "E3":
            return jnp.sqrt(v_hat + h.eps / bc2)
        if eps_mode == "E4":
            return jnp.sqrt(v_hat) + h.eps / jnp.sqrt(bc2)
        return jnp.sqrt(v_hat)  # E5: eps is already in v

    return tree_map(den, state.v)


def diagnostics(grads, state, h, static):
    """Effective elementwise step lr / denominator, and the denominator itself."""
    den = denominators(state, h, {"eps_mode": "E1", **static})
    return {
        "step_size": tree_map(lambda d: safe_div(h.learning_rate * jnp.ones_like(d), d), den),
        "denominator": den,
    }


def check_eps_mode(eps_mode: str) -> None:
    if eps_mode not in EPS_MODES:
        raise ValueError(f"eps_mode must be one of {EPS_MODES}, got {eps_mode!r}")


def make(eps_mode: str = "E1", bias_correction: bool = True) -> Optimizer:
    check_eps_mode(eps_mode)
    static = {"eps_mode": eps_mode, "bias_correction": bias_correction}

    def init(params, hyper):
        del hyper
        return State(init_count(), zeros_like_tree(params), zeros_like_tree(params))

    def step(params, grads, state, h):
        state, d = adam_moments(state, l2_coupled(grads, params, h.l2), h, static)
        return step_from(params, d, h.learning_rate), state

    return Optimizer("adam", init, step, Hyper(), static, REFERENCE)


def theorem2_form(static, hyper, curvatures, mu, mu_text) -> ClosedForm | None:
    """Adam as the q = 1, p = 2 case of Theorem 2 of Zhang, Niwa, Kleijn (arXiv:2112.06125)
    at z* = (x*, 0, 0), on curvatures gamma_i + l2, with decay mu (0 for Adam,
    lr * weight_decay for AdamW) and phi denominator delta = eps (E1, E4: eps outside the
    root) or sqrt(eps) (E2, E3: inside). None for E5 (eps in the EMA moves the fixed point
    off v = 0) and for eps <= 0 (0/0 at z*)."""
    mode = static.get("eps_mode", "E1")
    eps = hyper["eps"]
    if mode == "E5" or eps <= 0:
        return None
    delta = eps if mode in ("E1", "E4") else math.sqrt(eps)
    lam = np.asarray(curvatures, float) + hyper.get("l2", 0.0)
    name = (
        f"Theorem 2 with mu = {mu_text} "
        f"({mode}: delta = {'eps' if mode in ('E1', 'E4') else 'sqrt(eps)'})"
    )
    return theorem2(hyper["learning_rate"], lam, delta, hyper["b1"], hyper["b2"], mu, name)


def linearisation(static, hyper, curvatures, at_zero_state) -> ClosedForm | None:
    """Theorem 2 with mu = 0 (see :func:`theorem2_form`), at z* = (x*, 0, 0) only."""
    if not at_zero_state:
        return None
    return theorem2_form(static, hyper, curvatures, 0.0, "0")


ENTRY = OptimizerEntry(
    id="adam",
    make=make,
    summary="Adam: bias-corrected EMAs of g and g^2",
    paper=REFERENCE,
    eps="E1 m_hat/(sqrt(v_hat)+eps); eps_mode E2-E5 selectable",
    decay="l2: coupled (g + l2 x)",
    static_choices={"eps_mode": EPS_MODES, "bias_correction": (True, False)},
    diagnostics=diagnostics,
    linearisation=linearisation,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={"learning_rate": "α", "b1": "β1", "b2": "β2", "eps": "ε"},
    bibtex="""@inproceedings{kingma2015adam,
  title     = {Adam: A Method for Stochastic Optimization},
  author    = {Kingma, Diederik P. and Ba, Jimmy},
  booktitle = {International Conference on Learning Representations},
  year      = {2015}
}""",
)
