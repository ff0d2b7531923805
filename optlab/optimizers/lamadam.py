"""LaMAdam: LaProp whose second moment uses the MaxVA adaptive coefficient beta_t.

Zhu, Cheng, Gan, Huang, Liu, Goldstein, "MaxVA: Fast Adaptation of Step Sizes by
Maximizing Observed Variance of Gradients", arXiv:2006.11918, Algorithm 2 (appendix) with
eqs. (6)-(7); official code zhuchen03/MaxVA ``LaMadam``. docs/optimizers.md#maxva.

Update, t = 1, 2, ... (all moments 0 at t = 0, L_0 = 0; beta_t as in ``_maxva``)::

    g_t  <- g_t + l2 x_{t-1}                                        (coupled decay, if any)
    beta_t, u~_t, v~_t, w_t                                         (MaxVA, as in madam)
    n_t  = g_t / D_t,   D_t = sqrt(v~_t/w_t) + eps   (official, E1)
                        D_t = sqrt(v~_t/w_t + eps)   (eps_mode="paper", Alg. 2 line 11, E2)
    M_t  = b1 M_{t-1} + (1 - b1) lr_t n_t,    L_t = b1 L_{t-1} + (1 - b1) lr_t
    x_t  = (1 - lr_t wd) x_{t-1} - (lr_t / L_t) M_t

For a constant lr, lr/L_t = 1/(1 - b1^t) and M_t = lr EMA_b1(n), so the step is
lr/(1 - b1^t) EMA_b1(n): Alg. 2 lines 11-12 exactly.

Symbols -> hyperparameters: eta -> ``learning_rate``, alpha -> ``b1`` (the code's
``momentum``), beta_underbar/beta_bar -> ``b2_min``/``b2_max`` (the code's ``beta_min`` /
``beta``), eq. (7)'s "beta_1" -> ``b2_init`` (negative = automatic: b2_max if b2_max < 1,
else 0.9), epsilon -> ``eps``, the eq. (6) guard -> ``delta``, the official ``weight_decay``
-> ``l2`` (``use_adamw=False``, the code's default: coupled) or ``weight_decay``
(``use_adamw=True``: decoupled, scaled by lr, applied to x_{t-1}).
Static: ``eps_mode`` official (default) | paper; ``amsgrad``.
Defaults (official): lr = 1e-3, b1 = 0.9, (b2_min, b2_max) = (0.5, 0.98), eps = 1e-15,
delta = 1e-16, no decay.

Departures: eps placement follows the official code (E1; Alg. 2 is E2, kept as
``eps_mode="paper"``). The learning rate is folded in through the official lr-EMA L_t
(identical to Alg. 2 for a constant lr; with lr = 0 throughout the step is 0).
``amsgrad``: the official LaMadam reads the flag with ``getattr`` on a dict, so it never takes
effect there; here it uses the official MAdam semantics (D_t replaced by its elementwise
running maximum), as docs/optimizers.md#choices recommends. sigma^2 clamped at 0, the 0-ratio rule
for eq. (6) and the 0/0 -> 0 rule as in ``madam``. With b2_min = b2_max this is official
LaProp with b2 = b2_max (the official code skips MaxVA there; clipping gives the same).
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers import _maxva
from optlab.optimizers._common import (
    init_count,
    l2_coupled,
    safe_div,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = (
    "Zhu et al. (2020), MaxVA, arXiv:2006.11918, Alg. 2 (LaMAdam), eqs. (6)-(7); "
    "official code zhuchen03/MaxVA"
)


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2_min: float = 0.5
    b2_max: float = 0.98
    b2_init: float = -1.0
    eps: float = 1e-15
    delta: float = 1e-16
    l2: float = 0.0
    weight_decay: float = 0.0


class State(NamedTuple):
    count: object
    M: object  # EMA of lr_t n_t
    u: object  # u~
    v: object  # v~
    w: object  # zeroth moment
    lr_ema: object  # L_t, a scalar
    den_max: object  # running max of D_t (None unless amsgrad)


def make(eps_mode: str = "official", amsgrad: bool = False) -> Optimizer:
    _maxva.check_eps_mode("lamadam", eps_mode)
    amsgrad = bool(amsgrad)

    def init(params, hyper):
        del hyper
        z = _maxva.zeros(params)
        den_max = zeros_like_tree(params) if amsgrad else None
        lr_ema = _maxva.scalar_zero(params)
        return State(init_count(), zeros_like_tree(params), z.u, z.v, z.w, lr_ema, den_max)

    def step(params, grads, state, h):
        lr = h.learning_rate
        grads = l2_coupled(grads, params, h.l2)
        count = state.count + 1
        mom = _maxva.update(count, _maxva.Moments(state.u, state.v, state.w), grads, h)
        den = _maxva.denominators(mom, h, eps_mode, paper_form="E2")
        den_max = tree_map(jnp.maximum, state.den_max, den) if amsgrad else None
        if amsgrad:
            den = den_max
        n = tree_map(safe_div, grads, den)
        M = tree_map(lambda M, n: h.b1 * M + (1 - h.b1) * lr * n, state.M, n)
        lr_ema = h.b1 * state.lr_ema + (1 - h.b1) * lr
        factor = safe_div(lr, lr_ema)
        shrink = 1 - lr * h.weight_decay
        new = tree_map(lambda x, M: shrink * x - factor * M, params, M)
        return new, State(count, M, mom.u, mom.v, mom.w, lr_ema, den_max)

    static = {"eps_mode": eps_mode, "amsgrad": amsgrad}
    return Optimizer("lamadam", init, step, Hyper(), static, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = lr / D_t, the scale applied to g_t before the momentum (for a constant lr
    x_t = x_{t-1} - 1/(1 - b1^t) EMA_b1(step_size * g)); denominator D_t (after the amsgrad
    max when on). The paper's "average step size" for LaMAdam, mean |lr M_t|-style, is the
    mean absolute parameter change, which the runner can read off the trajectory."""
    del grads
    return _maxva.diagnostics(new_state, hyper, static, paper_form="E2")


ENTRY = OptimizerEntry(
    id="lamadam",
    make=make,
    summary="LaMAdam (MaxVA): LaProp with a per-coordinate beta_t maximising the observed variance",
    paper="Zhu et al. (2020), MaxVA, arXiv:2006.11918, Algorithm 2",
    eps="official: E1 g/(sqrt(v~/w)+eps) then momentum; eps_mode=paper: E2 g/sqrt(v~/w+eps)",
    decay="l2: coupled (official default); weight_decay: decoupled, scaled by lr (use_adamw)",
    bounds=_maxva.BOUNDS,
    static_choices={"eps_mode": _maxva.EPS_MODES, "amsgrad": (False, True)},
    diagnostics=diagnostics,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={"learning_rate": "η", "b1": "α", "b2_min": "β_min", "b2_max": "β_max", "eps": "ε"},
    bibtex=_maxva.BIBTEX,
)
