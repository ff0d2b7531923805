"""LaProp: momentum over the normalised gradient (Ziyin, Wang, Ueda, arXiv:2002.04839).

"LaProp: Separating Momentum and Adaptivity in Adam", Algorithm 1; implemented as the
official code Z-T-WANG/LaProp-Optimizer (``laprop.py``, docs/optimizers.md#laprop), with its
learning-rate EMAs. Update, t = 1, 2, ... (M_0 = v_0 = 0, L_0 = B_0 = 0)::

    v_t  = b2 v_{t-1} + (1 - b2) g_t^2
    L_t  = b1 L_{t-1} + (1 - b1) lr,      B_t = b2 B_{t-1} + (1 - b2)       (= lr bc1, bc2)
    n_t  = g_t / (sqrt(v_t / B_t) + eps)                                      (E1 on the normaliser)
    M_t  = b1 M_{t-1} + (1 - b1) lr n_t
    x'_t = x_{t-1} - (lr / L_t) M_t,      x_t = (1 - mu) x'_t                (decay after the step)

For a constant lr: x_t = (1 - mu)(x_{t-1} - lr/bc1 * EMA_b1(g / (sqrt(v_hat) + eps))).
Static ``amsgrad`` (official): v is replaced by its running max before the division by B_t.
Static ``centered`` (official): a_t = b2 a_{t-1} + (1 - b2) g_t and, for t > 10 only, v is
replaced by v_t - a_t^2 (raw EMAs, as the code has it); with both options the max is only
taken for t > 10.

Symbols -> hyperparameters: eta -> ``learning_rate``, mu/nu (paper) -> ``b1``/``b2``,
epsilon -> ``eps``, the official ``weight_decay`` -> ``mu`` (un-scaled, applied to the
updated x: x <- (1 - mu) x'). Defaults (official): lr = 4e-4, (0.9, 0.999), eps = 1e-15,
mu = 0. pytorch-optimizer's LaProp differs: (sqrt(v + 1e-15) + eps)/sqrt(bc2) as normaliser
and lr-scaled decay by default.

Departures: the centred v - a^2 is clamped at 0 before the root (>= 0 in exact
arithmetic); with lr = 0 the official step factor 1/(L/lr) is replaced by 1, as the code
does. A coordinate with eps = 0 and v = 0 (so g = 0) gets n = 0 (0/0 rule).
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._baselines import ema, ema_sq, scalar_like
from optlab.optimizers._common import (
    init_count,
    safe_div,
    step_from,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = (
    "Ziyin, Wang, Ueda (2020), LaProp: Separating Momentum and Adaptivity in Adam, "
    "arXiv:2002.04839, Alg. 1; official code Z-T-WANG/LaProp-Optimizer"
)
STEPS_BEFORE_CENTERED = 10  # official steps_before_using_centered


class Hyper(NamedTuple):
    learning_rate: float = 4e-4
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-15
    mu: float = 0.0


class State(NamedTuple):
    count: object
    M: object  # EMA of lr * n_t
    v: object
    lr_ema: object  # L_t, scalar
    one_ema: object  # B_t = 1 - b2^t computed as an EMA, scalar
    a: object  # EMA of g with b2 (None unless centered)
    v_max: object  # None unless amsgrad


def _stat_of(state, amsgrad, centered):
    """The statistic a step divides by B_t, from the state after that step (official order:
    centring for t > 10, then the running max, which with centring is also only for t > 10)."""
    late = state.count > STEPS_BEFORE_CENTERED
    stat = state.v
    if centered:
        stat = tree_map(lambda v, a: jnp.where(late, jnp.maximum(v - a * a, 0), v), stat, state.a)
    if amsgrad:
        stat = (
            tree_map(lambda u, s: jnp.where(late, u, s), state.v_max, stat)
            if centered
            else state.v_max
        )
    return stat


def make(amsgrad: bool = False, centered: bool = False) -> Optimizer:
    amsgrad, centered = bool(amsgrad), bool(centered)

    def init(params, hyper):
        del hyper
        z = zeros_like_tree
        zero = scalar_like(params, 0.0)
        return State(
            init_count(),
            z(params),
            z(params),
            zero,
            zero,
            z(params) if centered else None,
            z(params) if amsgrad else None,
        )

    def step(params, grads, state, h):
        lr = h.learning_rate
        count = state.count + 1
        v = ema_sq(h.b2, state.v, grads)
        lr_ema = h.b1 * state.lr_ema + (1 - h.b1) * lr
        one_ema = h.b2 * state.one_ema + (1 - h.b2)
        a = ema(h.b2, state.a, grads) if centered else None
        new_state = State(count, state.M, v, lr_ema, one_ema, a, None)
        if amsgrad:  # the max of the (centred) statistic, skipped for t <= 10 when centred
            base = _stat_of(new_state, False, centered)
            late = count > STEPS_BEFORE_CENTERED if centered else True
            v_max = tree_map(lambda u, s: jnp.where(late, jnp.maximum(u, s), u), state.v_max, base)
            new_state = new_state._replace(v_max=v_max)
        stat = _stat_of(new_state, amsgrad, centered)
        den = tree_map(lambda s: jnp.sqrt(s / one_ema) + h.eps, stat)
        n = tree_map(safe_div, grads, den)
        M = tree_map(lambda M, n: h.b1 * M + (1 - h.b1) * lr * n, state.M, n)
        factor = jnp.where(lr != 0, lr / jnp.where(lr_ema != 0, lr_ema, 1.0), 1.0)
        moved = step_from(params, M, factor)
        new = tree_map(lambda x: (1 - h.mu) * x, moved)
        return new, new_state._replace(M=M)

    static = {"amsgrad": amsgrad, "centered": centered}
    return Optimizer("laprop", init, step, Hyper(), static, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = lr / (sqrt(v / B_t) + eps): the scale applied to g_t before the momentum
    (for a constant lr, x_t = x_{t-1} - 1/bc1 * EMA_b1(step_size * g));
    denominator sqrt(v / B_t) + eps."""
    del grads
    stat = _stat_of(new_state, static["amsgrad"], static["centered"])
    den = tree_map(lambda s: jnp.sqrt(s / new_state.one_ema) + hyper.eps, stat)
    step = tree_map(lambda d: safe_div(hyper.learning_rate, d), den)
    return {"step_size": step, "denominator": den}


ENTRY = OptimizerEntry(
    id="laprop",
    make=make,
    summary="LaProp (official): momentum of g/(sqrt(v_hat)+eps), lr-EMA bias correction",
    paper=REFERENCE,
    eps="E1 on the normaliser: g/(sqrt(v/bc2)+eps), then momentum",
    decay="mu: fixed (un-scaled), applied after the step to the updated x",
    static_choices={"amsgrad": (False, True), "centered": (False, True)},
    diagnostics=diagnostics,
    state_roles={"count": "counter", "v": "nonnegative", "v_max": "running_max"},
    symbols={"learning_rate": "η", "b1": "μ", "b2": "ν", "eps": "ε"},
    bibtex="""@article{ziyin2020laprop,
  title   = {{LaProp}: Separating Momentum and Adaptivity in {Adam}},
  author  = {Ziyin, Liu and Wang, Zhikang T. and Ueda, Masahito},
  journal = {arXiv preprint arXiv:2002.04839},
  year    = {2020}
}""",
)
