"""AMSGrad: Adam with a running maximum of the second moment (Reddi, Kale, Kumar, ICLR 2018).

Paper: "On the Convergence of Adam and Beyond", Algorithm 2. Update, t = 1, 2, ...::

    g_t   = grad f(x_{t-1}) + l2 x_{t-1}
    m_t   = b1 m_{t-1} + (1 - b1) g_t,      v_t = b2 v_{t-1} + (1 - b2) g_t^2
    torch (default):  u_t = max(u_{t-1}, v_t)          d_t = m_hat_t / (sqrt(u_t / bc2) + eps)
    optax:            u_t = max(u_{t-1}, v_t / bc2)    d_t = m_hat_t / (sqrt(u_t) + eps)
    paper:            u_t = max(u_{t-1}, v_t)          d_t = m_t / (sqrt(u_t) + eps)
    x_t   = (1 - lr weight_decay) x_{t-1} - lr d_t

with u_0 = 0 (u is v^max), bc1 = 1 - b1^t, bc2 = 1 - b2^t, m_hat = m / bc1
(docs/optimizers.md#amsgrad).

Symbols -> hyperparameters: alpha -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps``; ``l2`` is torch's coupled ``weight_decay`` of ``Adam(amsgrad=True)``,
``weight_decay`` the decoupled AdamW form (``AdamW(amsgrad=True)``). Both default to 0.
Static ``amsgrad_variant`` in {"torch", "optax", "paper"}: where the running max is taken
(raw v as ``torch.optim.Adam(amsgrad=True)``; bias-corrected v as ``optax.amsgrad``; raw v with
no bias correction at all as the paper, ``optax.amsgrad(bias_correction_mu=False,
bias_correction_nu=False)``). torch and optax disagree at O(1e-2) within 30 steps.

Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8 (torch).

Departures: the paper's Algorithm 2 has no eps and a decaying beta_{1t} for its regret
bound; optlab keeps the constant b1 that every implementation uses and adds eps outside the
root (E1) in every variant. The paper's alpha_t = alpha/sqrt(t) is the runner's ``inv_sqrt``
learning-rate schedule. A coordinate with eps = 0 and v^max = 0 (so m = 0) gets d = 0 (0/0 rule).
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._baselines import check_choice, ema, ema_sq, tree_maximum
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

REFERENCE = "Reddi, Kale, Kumar (2018), On the Convergence of Adam and Beyond, Alg. 2"
VARIANTS = ("torch", "optax", "paper")


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    l2: float = 0.0
    weight_decay: float = 0.0


class State(NamedTuple):
    count: object
    m: object
    v: object
    v_max: object


def _denominator(v_max, count, h, variant):
    """(denominator tree, factor) with x_t = x_{t-1} - lr * factor * m_hat / denominator."""
    bc1, bc2 = bias_corrections(count, h.b1, h.b2)
    if variant == "torch":
        return tree_map(lambda u: jnp.sqrt(u / bc2) + h.eps, v_max), 1.0
    if variant == "optax":
        return tree_map(lambda u: jnp.sqrt(u) + h.eps, v_max), 1.0
    return tree_map(lambda u: jnp.sqrt(u) + h.eps, v_max), bc1  # paper: m itself, no bc1


def make(amsgrad_variant: str = "torch") -> Optimizer:
    check_choice("amsgrad", "amsgrad_variant", amsgrad_variant, VARIANTS)

    def init(params, hyper):
        del hyper
        z = zeros_like_tree
        return State(init_count(), z(params), z(params), z(params))

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)
        count = state.count + 1
        m = ema(h.b1, state.m, g)
        v = ema_sq(h.b2, state.v, g)
        bc1, bc2 = bias_corrections(count, h.b1, h.b2)
        if amsgrad_variant == "optax":
            v_max = tree_maximum(state.v_max, tree_map(lambda v: v / bc2, v))
        else:
            v_max = tree_maximum(state.v_max, v)
        den, _ = _denominator(v_max, count, h, amsgrad_variant)
        m_bc = bc1 if amsgrad_variant != "paper" else 1.0
        d = tree_map(lambda m, s: safe_div(m / m_bc, s), m, den)
        new = step_from(params, d, h.learning_rate, weight_decay=h.weight_decay)
        return new, State(count, m, v, v_max)

    return Optimizer(
        "amsgrad", init, step, Hyper(), {"amsgrad_variant": amsgrad_variant}, REFERENCE
    )


def diagnostics(grads, new_state, hyper, static):
    """step_size: x_t = x_{t-1} - step_size * m_hat_t; denominator as in the update."""
    del grads
    den, factor = _denominator(new_state.v_max, new_state.count, hyper, static["amsgrad_variant"])
    step = tree_map(lambda s: safe_div(hyper.learning_rate * factor, s), den)
    return {"step_size": step, "denominator": den}


ENTRY = OptimizerEntry(
    id="amsgrad",
    make=make,
    summary="AMSGrad: Adam dividing by the running max of v (torch / optax / paper variants)",
    paper=REFERENCE,
    eps="E1 outside the root: m_hat/(sqrt(max v / bc2)+eps) (torch); optax: max over v_hat",
    decay="l2: coupled (torch weight_decay); weight_decay: decoupled, scaled by lr",
    static_choices={"amsgrad_variant": VARIANTS},
    diagnostics=diagnostics,
    state_roles={"count": "counter", "v": "nonnegative", "v_max": "running_max"},
    fixed_point_note=(
        "running max v_max: a continuum of fixed points (any v_max* >= 0); at v_max* = 0 (the "
        "init state) the max sits at a tie and the map is not differentiable; analyse a point "
        "of the family with --state v_max=VALUE"
    ),
    symbols={"learning_rate": "α", "b1": "β1", "b2": "β2", "eps": "ε"},
    bibtex="""@inproceedings{reddi2018convergence,
  title     = {On the Convergence of {Adam} and Beyond},
  author    = {Reddi, Sashank J. and Kale, Satyen and Kumar, Sanjiv},
  booktitle = {International Conference on Learning Representations},
  year      = {2018}
}""",
)
