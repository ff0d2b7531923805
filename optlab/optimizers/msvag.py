"""M-SVAG: momentum SGD with stochastic variance adaptation (Balles & Hennig, ICML 2018).

"Dissecting Adam: The Sign, Magnitude and Variance of Stochastic Gradients"; implemented as
the official TensorFlow code lballes/msvag (``MSVAGOptimizer``, docs/optimizers.md#msvag).
Update, t = 1, 2, ... (a single beta for both moments)::

    m_t   = beta m_{t-1} + (1 - beta) g_t,        v_t = beta v_{t-1} + (1 - beta) g_t^2
    m_hat = m_t / (1 - beta^t),                   v_hat = v_t / (1 - beta^t)
    rho_t = min((1 - beta)^2 (1 - beta^{2t}) / ((1 - beta^t)^2 (1 - beta^2)), 0.9999)
    s_t   = (v_hat - m_hat^2) / (1 - rho_t)
    f_t   = clip(m_hat^2 / (m_hat^2 + rho_t s_t), 0, 1)          (0/0 -> 0, where m = v = 0)
    x_t   = x_{t-1} - lr f_t m_hat_t

rho_t equals (1 - beta)(1 + beta^t) / ((1 + beta)(1 - beta^t)); rho_1 = 1 is capped.

Symbols -> hyperparameters: alpha -> ``learning_rate``, beta -> ``beta``. No eps and no
weight decay, as in the official code. Defaults: lr = 1e-2 (the official code has no default;
pytorch-optimizer uses 1e-2, Zhang, Niwa, Kleijn (arXiv:2203.13273) used 0.1), beta = 0.9.

Under a constant gradient m_hat^2 = v_hat, so s = 0, f = 1 and M-SVAG is plain gradient
descent x_t = x_0 - t lr c. The step scales with the gradient: M-SVAG is not invariant to
rescaling f. pytorch-optimizer's MSVAG equals this file.

Departures: none from lballes/msvag. The copy used in Zhang, Niwa, Kleijn's (arXiv:2203.13273)
experiments (from the AdaBelief repository) is a faulty port (v-EMA with beta1 but corrected with
beta2, no rho cap, no clip, coupled L2) and is not reproduced.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._baselines import ema, ema_sq
from optlab.optimizers._common import (
    as_float,
    init_count,
    safe_div,
    step_from,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = (
    "Balles & Hennig (2018), Dissecting Adam: The Sign, Magnitude and Variance of Stochastic "
    "Gradients, ICML; official code lballes/msvag"
)
RHO_CAP = 0.9999


class Hyper(NamedTuple):
    learning_rate: float = 1e-2
    beta: float = 0.9


class State(NamedTuple):
    count: object
    m: object
    v: object


def _factor(state, h):
    """(f_t, m_hat_t) leafwise."""
    bp = h.beta ** as_float(state.count, h.beta)
    bc = 1 - bp
    rho = (1 - h.beta) ** 2 * (1 - bp**2) / (bc**2 * (1 - h.beta**2))
    rho = jnp.minimum(rho, RHO_CAP)

    def factor(m, v):
        m_hat, v_hat = m / bc, v / bc
        m2 = m_hat * m_hat
        s = (v_hat - m2) / (1 - rho)
        return jnp.clip(safe_div(m2, m2 + rho * s), 0, 1)

    return tree_map(factor, state.m, state.v), tree_map(lambda m: m / bc, state.m)


def make() -> Optimizer:
    def init(params, hyper):
        del hyper
        return State(init_count(), zeros_like_tree(params), zeros_like_tree(params))

    def step(params, grads, state, h):
        m = ema(h.beta, state.m, grads)
        v = ema_sq(h.beta, state.v, grads)
        new_state = State(state.count + 1, m, v)
        f, m_hat = _factor(new_state, h)
        d = tree_map(lambda f, m: f * m, f, m_hat)
        return step_from(params, d, h.learning_rate), new_state

    return Optimizer("msvag", init, step, Hyper(), {}, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = lr f_t (x_t = x_{t-1} - step_size * m_hat_t); M-SVAG divides by nothing,
    so the denominator is reported as 1 / f_t (inf where f_t = 0), keeping
    step_size = lr / denominator as for the other methods."""
    del grads, static
    f, _ = _factor(new_state, hyper)
    den = tree_map(lambda f: jnp.where(f > 0, 1 / jnp.where(f > 0, f, 1), jnp.inf), f)
    return {"step_size": tree_map(lambda f: hyper.learning_rate * f, f), "denominator": den}


ENTRY = OptimizerEntry(
    id="msvag",
    make=make,
    summary="M-SVAG: momentum SGD scaled by m^2/(m^2 + rho s), a variance-adaptation factor",
    paper=REFERENCE,
    eps="- (no eps)",
    decay="none",
    bounds={"beta": (0.0, 1.0, "[)")},
    diagnostics=diagnostics,
    state_roles={"count": "counter", "v": "nonnegative"},
    fixed_point_note=(
        "variance-adapted factor clipped to [0, 1] and 0/0 at z*: piecewise / degenerate"
    ),
    symbols={"learning_rate": "α", "beta": "β"},
    bibtex="""@inproceedings{balles2018dissecting,
  title     = {Dissecting {Adam}: The Sign, Magnitude and Variance of Stochastic Gradients},
  author    = {Balles, Lukas and Hennig, Philipp},
  booktitle = {Proceedings of the 35th International Conference on Machine Learning},
  series    = {Proceedings of Machine Learning Research},
  volume    = {80},
  pages     = {404--413},
  year      = {2018}
}""",
)
