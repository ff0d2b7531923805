"""MAdam: Adam whose second moment uses the MaxVA adaptive coefficient beta_t.

Zhu, Cheng, Gan, Huang, Liu, Goldstein, "MaxVA: Fast Adaptation of Step Sizes by Maximizing
Observed Variance of Gradients", arXiv:2006.11918, Algorithm 1 with eqs. (6)-(7);
official code zhuchen03/MaxVA ``image_classification/optim_adam.py``. docs/optimizers.md#maxva.

Update, t = 1, 2, ... (all moments 0 at t = 0; beta_t as in ``_maxva``)::

    g_t  <- g_t + l2 x_{t-1}                                        (coupled decay, if any)
    beta_t = b2_init (t = 1);  clip(eq. 6 + delta, b2_min, b2_max) (t >= 2)
    u~_t = beta_t u~ + (1 - beta_t) g_t,  v~_t = beta_t v~ + (1 - beta_t) g_t^2,
    w_t  = beta_t w + (1 - beta_t)
    m~_t = b1 m~_{t-1} + (1 - b1) g_t
    official: x_t = (1 - lr wd) x_{t-1} - lr/(1 - b1^t) m~_t / (sqrt(v~_t/w_t) + eps)     (E1)
    paper:    x_t = (1 - lr wd) x_{t-1} - lr sqrt(w_t)/(1 - b1^t) m~_t / sqrt(v~_t + eps)  (E3)

Symbols -> hyperparameters: eta -> ``learning_rate``, alpha -> ``b1`` (the constant
momentum; the code's ``beta1``), beta_underbar/beta_bar -> ``b2_min``/``b2_max`` (the code's
``beta2_range``), the first-step coefficient "beta_1" of eq. (7) -> ``b2_init`` (negative =
automatic: b2_max if b2_max < 1, else 0.9), epsilon -> ``eps``, the eq. (6) guard ->
``delta``, the official ``weight_decay`` -> ``weight_decay`` (``adamw=True``: decoupled,
scaled by lr, applied to x_{t-1}) or ``l2`` (``adamw=False``: coupled).
Static: ``eps_mode`` official (default) | paper; ``amsgrad`` (official semantics: the
denominator is replaced by its elementwise running maximum).
Defaults (official): lr = 1e-3, b1 = 0.9, (b2_min, b2_max) = (0.5, 0.999), eps = 1e-8,
delta = 1e-16, no decay. The paper used decoupled decay in every experiment.

Departures: eps placement follows the official code (E1; Alg. 1 is E3, kept as
``eps_mode="paper"``). sigma^2 is clamped at 0 (the synthetic script does, the image code
does not: rounding-level). With b2_min = b2_max the official code skips MaxVA and uses
w_t = 1 - b2_max^t; here clipping gives the same value (w_t by recursion). The eq. (6)
ratio is taken as 0 where its denominator is 0 (delta = 0, D = sigma = 0), so beta_t =
b2_min there. A denominator of 0 (eps = 0 with v~ = 0) gives a 0 step, not 0/0. Options of
the code absent from the paper (``nesterov``, ``lamb``, ``share_beta``, ``moment_warmup``,
gradient-norm clipping) are not implemented.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers import _maxva
from optlab.optimizers._common import (
    as_float,
    init_count,
    l2_coupled,
    safe_div,
    step_from,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = (
    "Zhu et al. (2020), MaxVA, arXiv:2006.11918, Alg. 1 (MAdam), eqs. (6)-(7); "
    "official code zhuchen03/MaxVA"
)


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2_min: float = 0.5
    b2_max: float = 0.999
    b2_init: float = -1.0
    eps: float = 1e-8
    delta: float = 1e-16
    l2: float = 0.0
    weight_decay: float = 0.0


class State(NamedTuple):
    count: object
    m: object  # m~: EMA of g with the constant b1
    u: object  # u~
    v: object  # v~
    w: object  # zeroth moment
    den_max: object  # running max of the denominator (None unless amsgrad)


def make(eps_mode: str = "official", amsgrad: bool = False) -> Optimizer:
    _maxva.check_eps_mode("madam", eps_mode)
    amsgrad = bool(amsgrad)

    def init(params, hyper):
        del hyper
        z = _maxva.zeros(params)
        den_max = zeros_like_tree(params) if amsgrad else None
        return State(init_count(), zeros_like_tree(params), z.u, z.v, z.w, den_max)

    def step(params, grads, state, h):
        grads = l2_coupled(grads, params, h.l2)
        count = state.count + 1
        mom = _maxva.update(count, _maxva.Moments(state.u, state.v, state.w), grads, h)
        m = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, grads)
        den = _maxva.denominators(mom, h, eps_mode, paper_form="E3")
        den_max = tree_map(jnp.maximum, state.den_max, den) if amsgrad else None
        if amsgrad:
            den = den_max
        bc1 = 1 - h.b1 ** as_float(count, h.b1)
        d = tree_map(lambda m, s: safe_div(m / bc1, s), m, den)
        new = step_from(params, d, h.learning_rate, weight_decay=h.weight_decay)
        return new, State(count, m, mom.u, mom.v, mom.w, den_max)

    static = {"eps_mode": eps_mode, "amsgrad": amsgrad}
    return Optimizer("madam", init, step, Hyper(), static, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = lr / D_t (the elementwise scale of m_hat_t; Zhu et al., arXiv:2006.11918, Fig. 6
    plots its distribution, with D_t = sqrt(v~/w) + eps) and the denominator D_t itself (after the
    amsgrad max when on; what S1/S2 are computed from)."""
    del grads
    return _maxva.diagnostics(new_state, hyper, static, paper_form="E3")


ENTRY = OptimizerEntry(
    id="madam",
    make=make,
    summary="MAdam (MaxVA): Adam with a per-coordinate beta_t maximising the observed variance",
    paper="Zhu et al. (2020), MaxVA, arXiv:2006.11918, Algorithm 1",
    eps="official: E1 m_hat/(sqrt(v~/w)+eps); eps_mode=paper: E3 sqrt(w) m~/sqrt(v~+eps)",
    decay="weight_decay: decoupled, scaled by lr (official adamw=True); l2: coupled",
    bounds=_maxva.BOUNDS,
    static_choices={"eps_mode": _maxva.EPS_MODES, "amsgrad": (False, True)},
    diagnostics=diagnostics,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={"learning_rate": "η", "b1": "α", "b2_min": "β_min", "b2_max": "β_max", "eps": "ε"},
    bibtex=_maxva.BIBTEX,
)
