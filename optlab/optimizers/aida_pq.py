"""Aida(p, q): AdamW extended by the powers of its second moment and magnitude.

Zhang, Niwa, Kleijn, "Extending AdamW by Leveraging Its Second Moment and Magnitude",
arXiv:2112.06125, Algorithm 1 and eq. (14a)/(14b). Not Aida-K of
arXiv:2203.13273 (id ``aida_k``), which shares the name and the authors.

Update, t = 1, 2, ... (1-based; the paper's 0-based t+1 becomes t)::

    m_t = b1 m_{t-1} + (1 - b1) g_t
    r_t = b2 r_{t-1} + (1 - b2) |g_t|^p
    form a:  x_t = (1 - mu) x_{t-1} - lr * bc2^{q/p}/bc1^q * |m_t|^q sgn(m_t) / (r_t + eps)^{q/p}
    form b:  x_t = (1 - mu) x_{t-1} - lr * bc2^{q/p} |m_t|^q sgn(m_t) / (bc1^q r_t^{q/p} + eps)

with bc1 = 1 - b1^t, bc2 = 1 - b2^t.

Symbols -> hyperparameters: eta -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps``, p -> ``p``, q -> ``q``, mu -> ``mu`` (decoupled decay, not scaled by
the learning rate). Static: ``form`` in {"a", "b"}.

Defaults are the paper's Fig. 4 setting (b1, b2, mu, lr, eps) = (0.9, 0.99, 0, 1e-3, 1e-50)
with the recommended (p, q) = (1, 2).

Numerics (docs/optimizers.md#aida_pq): form a is evaluated as
rho = |m_hat| / (r_hat + eps/bc2)^{1/p}, d = sgn(m) rho^q, which avoids overflow of
|m|^q and (r + eps)^{q/p} separately; form b as
|m_hat|^q / ((r_hat^{1/p})^q + eps/(bc1^q bc2^{q/p})).
A coordinate with r = 0 and eps = 0 (so m = 0 too) gets d = 0, not 0/0.

Departures from the paper: Alg. 1 lines 5-6 print m <- (1 - b1) m + b1 g; eqs. (3), (12),
(17) and the bias factors require m <- b1 m + (1 - b1) g, which is used (an OCR/typesetting
swap, docs/optimizers.md#aida_pq). Everything else follows Alg. 1.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from optlab._jax import jnp
from optlab.linear import ClosedForm, theorem2
from optlab.optimizers._common import (
    bias_corrections,
    init_count,
    ipow,
    root,
    safe_div,
    signed_pow,
    step_from,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = "Zhang, Niwa, Kleijn (2021), arXiv:2112.06125, Alg. 1, eq. (14a)/(14b)"


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.99
    eps: float = 1e-50
    p: float = 1.0
    q: float = 2.0
    mu: float = 0.0


class State(NamedTuple):
    count: object
    m: object
    r: object


def make(form: str = "a") -> Optimizer:
    if form not in ("a", "b"):
        raise ValueError(f"aida_pq: form must be 'a' or 'b', got {form!r}")

    def init(params, hyper):
        del hyper
        return State(init_count(), zeros_like_tree(params), zeros_like_tree(params))

    def step(params, grads, state, h):
        count = state.count + 1
        m = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, grads)
        r = tree_map(lambda r, g: h.b2 * r + (1 - h.b2) * ipow(jnp.abs(g), h.p), state.r, grads)
        state = State(count, m, r)
        new = step_from(params, direction(state, h, form), h.learning_rate, mu=h.mu)
        return new, state

    return Optimizer("aida_pq", init, step, Hyper(), {"form": form}, REFERENCE)


def direction(state, h, form):
    """d_t of eq. (14a) / (14b), evaluated as described in the module docstring."""
    bc1, bc2 = bias_corrections(state.count, h.b1, h.b2)
    if form == "a":

        def one(m, r):
            return signed_pow(safe_div(m / bc1, root((r + h.eps) / bc2, h.p)), h.q)

    else:
        eps_hat = h.eps / (ipow(bc1, h.q) * ipow(root(bc2, h.p), h.q))

        def one(m, r):
            return safe_div(signed_pow(m / bc1, h.q), ipow(root(r / bc2, h.p), h.q) + eps_hat)

    return tree_map(one, state.m, state.r)


def diagnostics(grads, state, h, static):
    """step_size = lr d_t / m_hat_t (the effective elementwise step; Zhang, Niwa, Kleijn,
    arXiv:2203.13273, Figs. 1-2) and the denominator (r_hat + eps/bc2)^(q/p) (form a) or r_hat^(q/p)
    + eps_hat (form b)."""
    form = static.get("form", "a")
    bc1, bc2 = bias_corrections(state.count, h.b1, h.b2)
    d = direction(state, h, form)
    step = tree_map(lambda d, m: safe_div(h.learning_rate * d, m / bc1), d, state.m)
    if form == "a":
        den = tree_map(lambda r: ipow(root((r + h.eps) / bc2, h.p), h.q), state.r)
    else:
        eps_hat = h.eps / (ipow(bc1, h.q) * ipow(root(bc2, h.p), h.q))
        den = tree_map(lambda r: ipow(root(r / bc2, h.p), h.q) + eps_hat, state.r)
    return {"step_size": step, "denominator": den}


def linearisation(static, hyper, curvatures, at_zero_state) -> ClosedForm | None:
    """Theorems 2 and 3 of the paper at z* = (x*, m = 0, r = 0) (they assume that fixed
    point: None elsewhere). q > 1 (Theorem 3): the eigenvalues b1, b2 and 1 - mu, each once
    per coordinate. q = 1 (Theorem 2, eqs. (22)-(24)): b2 and the roots of
    lambda^2 - T lambda + D = 0 with phi_i = lr gamma_i / delta, delta = eps^(1/p) (form a)
    or eps (form b); None for eps <= 0 (the update is 0/0 at z*)."""
    if not at_zero_state:
        return None
    gam = np.asarray(curvatures, float)
    lr, p, q, eps, mu = (hyper[k] for k in ("learning_rate", "p", "q", "eps", "mu"))
    b1, b2 = hyper["b1"], hyper["b2"]
    if q > 1:
        n = gam.size
        eigs = np.concatenate([np.full(n, b1), np.full(n, b2), np.full(n, 1 - mu)])
        return ClosedForm("Theorem 3: {b1, b2, 1 - mu}", eigs.astype(complex))
    if eps <= 0:
        return None
    delta = eps ** (1 / p) if static.get("form", "a") == "a" else eps
    note = "p = 1: reduced (m, x) block and r self-term" if p == 1 else ""
    return theorem2(lr, gam, delta, b1, b2, mu, "Theorem 2 (q = 1)", note)


ENTRY = OptimizerEntry(
    id="aida_pq",
    make=make,
    summary="Aida(p, q): AdamW with |g|^p second moment and |m|^q magnitude",
    paper=REFERENCE,
    eps="form a: (r+eps)^(q/p) inside (E3 generalised); form b: r^(q/p)+eps outside (E6)",
    decay="mu: fixed decoupled (1-mu)x",
    bounds={"p": (1.0, None, "[]"), "q": (1.0, None, "[]")},
    integer_hypers=("p", "q"),
    static_choices={"form": ("a", "b")},
    diagnostics=diagnostics,
    linearisation=linearisation,
    state_roles={"count": "counter", "r": "nonnegative"},
    symbols={
        "learning_rate": "η",
        "b1": "β1",
        "b2": "β2",
        "eps": "ε",
        "p": "p",
        "q": "q",
        "mu": "μ",
    },
    bibtex="""@article{zhang2021aida,
  title   = {Extending {AdamW} by Leveraging Its Second Moment and Magnitude},
  author  = {Zhang, Guoqiang and Niwa, Kenta and Kleijn, W. Bastiaan},
  journal = {arXiv preprint arXiv:2112.06125},
  year    = {2021}
}""",
)
