"""MaxVA building blocks shared by ``madam`` and ``lamadam`` (Zhu et al.,
arXiv:2006.11918, eqs. (2)-(7) and App. C; docs/optimizers.md#maxva).

The adaptive coefficient, per coordinate, t = 1, 2, ... (all moments 0 at t = 0)::

    t = 1:   beta_1 = b2_init                               (eq. 7: w_1 = 1 - b2_init)
    t >= 2:  u = u~_{t-1} / w_{t-1},  v = v~_{t-1} / w_{t-1}
             s2 = max(v - u^2, 0),    D2 = (g_t - u)^2
             beta~ = (D2 + s2) / (w_{t-1} (D2 - s2) + D2 + s2 + delta)    (eq. 6 + delta)
             beta_t = clip(beta~, b2_min, b2_max)
    u~_t = beta_t u~_{t-1} + (1 - beta_t) g_t,   v~_t = beta_t v~_{t-1} + (1 - beta_t) g_t^2
    w_t  = beta_t w_{t-1} + (1 - beta_t)

``b2_init`` < 0 (the default) selects the paper's / official rule: b2_max if b2_max < 1,
else 0.9 (Alg. 1 asks b2_max < 1; the synthetic experiment uses b2_max = 1).
The denominator of eq. 6 equals (1 + w) D2 + (1 - w) s2 + delta >= 0; when it is 0
(delta = 0 and D2 = s2 = 0) beta~ is taken as 0, i.e. beta_t = b2_min, the paper's intended
value for that case (App. C), instead of 0/0.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jax, jnp
from optlab.optimizers._common import safe_div, tree_map

EPS_MODES = ("official", "paper")

BOUNDS = {
    "b2_min": (0.0, 1.0, "[]"),
    "b2_max": (0.0, 1.0, "[]"),
    "b2_init": (-1.0, 1.0, "[)"),  # any negative value: the automatic rule
    "delta": (0.0, None, "[]"),
}


class Moments(NamedTuple):
    u: object  # u~: adaptively weighted EMA of g
    v: object  # v~: adaptively weighted EMA of g^2
    w: object  # zeroth moment (bias normaliser)


def first_beta(h):
    """beta_1 of eq. (7): ``b2_init`` if >= 0, else b2_max (b2_max < 1) or 0.9."""
    auto = jnp.where(h.b2_max < 1, h.b2_max, 0.9)
    return jnp.where(h.b2_init < 0, auto, h.b2_init)


def adaptive_beta(count, u, v, w, g, h):
    """beta_t for the 1-based step ``count`` from the moments after step t - 1 (one leaf)."""
    u_hat = safe_div(u, w)
    v_hat = safe_div(v, w)
    s2 = jnp.maximum(v_hat - u_hat * u_hat, 0)
    d2 = (g - u_hat) ** 2
    num = d2 + s2
    den = w * (d2 - s2) + d2 + s2 + h.delta
    beta = jnp.clip(safe_div(num, den), h.b2_min, h.b2_max)
    return jnp.where(count == 1, first_beta(h).astype(beta.dtype), beta)


def betas(count, moments: Moments, grads, h):
    """The tree of beta_t (``count`` = t, the step being taken)."""
    return tree_map(
        lambda u, v, w, g: adaptive_beta(count, u, v, w, g, h),
        moments.u,
        moments.v,
        moments.w,
        grads,
    )


def update(count, moments: Moments, grads, h) -> Moments:
    """Moments after step ``count`` (eqs. 2-4 with beta_t of eq. 6 / eq. 7)."""
    beta = betas(count, moments, grads, h)
    u = tree_map(lambda b, u, g: b * u + (1 - b) * g, beta, moments.u, grads)
    v = tree_map(lambda b, v, g: b * v + (1 - b) * g * g, beta, moments.v, grads)
    w = tree_map(lambda b, w: b * w + (1 - b), beta, moments.w)
    return Moments(u, v, w)


def denominators(moments: Moments, h, eps_mode: str, *, paper_form: str):
    """What the method divides by, per leaf.

    official (both):      sqrt(v~/w) + eps                     (E1, w in the role of bc2)
    paper, MAdam Alg. 1:  sqrt(v~ + eps) / sqrt(w) = sqrt(v~/w + eps/w)          (E3)
    paper, LaMAdam Alg. 2: sqrt(v~/w + eps)                                       (E2)
    """
    if eps_mode == "official":
        return tree_map(lambda v, w: jnp.sqrt(v / w) + h.eps, moments.v, moments.w)
    if paper_form == "E3":
        return tree_map(lambda v, w: jnp.sqrt(v + h.eps) / jnp.sqrt(w), moments.v, moments.w)
    return tree_map(lambda v, w: jnp.sqrt(v / w + h.eps), moments.v, moments.w)


def diagnostics(new_state, hyper, static, *, paper_form: str):
    """The optimizer-file ``diagnostics`` hook of both methods: denominator D_t (the running
    max when ``amsgrad`` is on, what S1/S2 are computed from) and step_size = lr / D_t."""
    if static.get("amsgrad"):
        den = new_state.den_max
    else:
        moments = Moments(new_state.u, new_state.v, new_state.w)
        eps_mode = static.get("eps_mode", "official")
        den = denominators(moments, hyper, eps_mode, paper_form=paper_form)
    step = tree_map(lambda s: safe_div(hyper.learning_rate * jnp.ones_like(s), s), den)
    return {"step_size": step, "denominator": den}


BIBTEX = """@article{zhu2020maxva,
  title   = {{MaxVA}: Fast Adaptation of Step Sizes by Maximizing Observed Variance of
             Gradients},
  author  = {Zhu, Chen and Cheng, Yu and Gan, Zhe and Huang, Furong and Liu, Jingjing and
             Goldstein, Tom},
  journal = {arXiv preprint arXiv:2006.11918},
  year    = {2020}
}"""


def check_eps_mode(name: str, eps_mode: str) -> None:
    if eps_mode not in EPS_MODES:
        raise ValueError(f"{name}: eps_mode must be one of {EPS_MODES}, got {eps_mode!r}")


def zeros(params) -> Moments:
    z = lambda: tree_map(jnp.zeros_like, params)  # noqa: E731
    return Moments(z(), z(), z())


def scalar_zero(params):
    """A 0-d zero in the dtype of the first leaf (per-optimizer scalar state)."""
    leaves = jax.tree_util.tree_leaves(params)
    dtype = leaves[0].dtype if leaves else jnp.result_type(float)
    return jnp.zeros((), dtype)
