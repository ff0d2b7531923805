"""NAdam: Adam with Nesterov momentum (Dozat, ICLR 2016 workshop, Algorithm 2).

"Incorporating Nesterov Momentum into Adam". Two forms (docs/optimizers.md#nadam), with
m_t = b1 m_{t-1} + (1 - b1) g_t, v_t = b2 v_{t-1} + (1 - b2) g_t^2, g_t including ``l2 x``,
D_t = sqrt(v_t / bc2) + eps, bc1 = 1 - b1^t, bc2 = 1 - b2^t:

    optax/Keras form (default):
        m_bar_t = b1 m_t / (1 - b1^{t+1}) + (1 - b1) g_t / bc1
        x_t     = (1 - lr wd) x_{t-1} - lr m_bar_t / D_t
    torch form (torch_schedule=True):
        mu_t    = b1 (1 - 0.96^{t psi} / 2),   P_t = P_{t-1} mu_t   (P_0 = 1)
        x_t     = (1 - lr wd) x_{t-1} - lr (1 - mu_t)/(1 - P_t) g_t / D_t
                                     - lr mu_{t+1}/(1 - P_t mu_{t+1}) m_t / D_t

Symbols -> hyperparameters: alpha -> ``learning_rate``, beta1/beta2 -> ``b1``/``b2``,
epsilon -> ``eps``, psi -> ``momentum_decay`` (torch form only; 4e-3), ``l2`` (torch's coupled
``weight_decay``), ``weight_decay`` (decoupled, scaled by lr: torch
``decoupled_weight_decay=True`` / ``optax.nadamw``). Static ``torch_schedule``.

The default form equals ``optax.nadam`` (and ``optax.nadamw`` with ``weight_decay``); the
torch form equals ``torch.optim.NAdam`` and cannot be reduced to the optax form.
Defaults: lr = 2e-3 (torch's default and Dozat's/Keras's original), (0.9, 0.999),
eps = 1e-8, momentum_decay = 4e-3.

Departures: Dozat's Algorithm 2 multiplies v_hat by an extra b2 (and uses the mu-schedule);
optax, Keras and torch drop the extra b2, and so does optlab (docs/optimizers.md#choices).
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._baselines import ema, ema_sq, lr_over, scalar_like
from optlab.optimizers._common import (
    as_float,
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

REFERENCE = "Dozat (2016), Incorporating Nesterov Momentum into Adam, ICLR workshop, Alg. 2"


class Hyper(NamedTuple):
    learning_rate: float = 2e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    momentum_decay: float = 4e-3
    l2: float = 0.0
    weight_decay: float = 0.0


class State(NamedTuple):
    count: object
    m: object
    v: object
    mu_product: object  # P_t (torch form only; None otherwise)


def _denominator(state, h):
    _, bc2 = bias_corrections(state.count, h.b1, h.b2)
    return tree_map(lambda v: jnp.sqrt(v / bc2) + h.eps, state.v)


def _mu(t, h):
    return h.b1 * (1 - 0.5 * 0.96 ** (t * h.momentum_decay))


def make(torch_schedule: bool = False) -> Optimizer:
    torch_schedule = bool(torch_schedule)

    def init(params, hyper):
        del hyper
        z = zeros_like_tree
        prod = scalar_like(params, 1.0) if torch_schedule else None
        return State(init_count(), z(params), z(params), prod)

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)
        count = state.count + 1
        m = ema(h.b1, state.m, g)
        v = ema_sq(h.b2, state.v, g)
        t = as_float(count, h.b1)
        if torch_schedule:
            mu, mu_next = _mu(t, h), _mu(t + 1, h)
            prod = state.mu_product * mu
            c_g = (1 - mu) / (1 - prod)
            c_m = mu_next / (1 - prod * mu_next)
        else:
            prod = None
            c_g = (1 - h.b1) / (1 - h.b1**t)
            c_m = h.b1 / (1 - h.b1 ** (t + 1))
        new_state = State(count, m, v, prod)
        den = _denominator(new_state, h)
        d = tree_map(lambda g, m, s: safe_div(c_g * g + c_m * m, s), g, m, den)
        new = step_from(params, d, h.learning_rate, weight_decay=h.weight_decay)
        return new, new_state

    return Optimizer("nadam", init, step, Hyper(), {"torch_schedule": torch_schedule}, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = lr / D_t (x_t = x_{t-1} - step_size * m_bar_t); denominator D_t."""
    del grads, static
    den = _denominator(new_state, hyper)
    return lr_over(hyper.learning_rate, den)


ENTRY = OptimizerEntry(
    id="nadam",
    make=make,
    summary="NAdam: Adam with a Nesterov look-ahead momentum (optax form; torch mu-schedule)",
    paper=REFERENCE,
    eps="E1: m_bar/(sqrt(v_hat)+eps)",
    decay="l2: coupled (torch weight_decay); weight_decay: decoupled, scaled by lr (NAdamW)",
    bounds={"momentum_decay": (0.0, None, "[]")},
    static_choices={"torch_schedule": (False, True)},
    diagnostics=diagnostics,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={"learning_rate": "α", "b1": "β1", "b2": "β2", "eps": "ε", "momentum_decay": "ψ"},
    bibtex="""@inproceedings{dozat2016incorporating,
  title     = {Incorporating {Nesterov} Momentum into {Adam}},
  author    = {Dozat, Timothy},
  booktitle = {International Conference on Learning Representations (Workshop Track)},
  year      = {2016}
}""",
)
