"""RMSprop (Tieleman & Hinton 2012, Lecture 6.5), in the ``torch.optim.RMSprop`` form.

Update, t = 1, 2, ... (v_0 = 0, buffer b_0 = 0, centred mean a_0 = 0)::

    g_t = grad f(x_{t-1}) + l2 x_{t-1}
    v_t = decay v_{t-1} + (1 - decay) g_t^2
    centered:          a_t = decay a_{t-1} + (1 - decay) g_t,  v~_t = v_t - a_t^2 (else v~_t = v_t)
    bias_correction:   v~_t computed from v_t / (1 - decay^t) and a_t / (1 - decay^t)
    D_t = sqrt(v~_t) + eps                 (default; eps_in_sqrt=True: D_t = sqrt(v~_t + eps))
    b_t = momentum b_{t-1} + g_t / D_t,    x_t = x_{t-1} - lr b_t

With momentum = 0 this is x_t = x_{t-1} - lr g_t / D_t.

Symbols -> hyperparameters: lr -> ``learning_rate``, alpha (torch) / decay (optax) ->
``decay``, epsilon -> ``eps``, ``momentum``, ``l2`` (torch's coupled ``weight_decay``).
Static: ``centered`` (Graves 2013; torch and optax), ``eps_in_sqrt`` (optax's default),
``bias_correction`` (optax option; off in torch).

Defaults are torch's (docs/optimizers.md#choices): lr = 1e-2, decay = 0.99, eps = 1e-8
outside the root, momentum = 0, no bias correction. ``optax.rmsprop`` defaults differ
(decay = 0.9, eps inside the root); ``optax.rmsprop(lr, decay, eps, eps_in_sqrt=False,
centered=..., momentum=..., bias_correction=...)`` equals this file at the same settings
(optax keeps lr inside its momentum trace, which is the same for a constant lr).

Departures: the centred variance v - a^2 is clamped at 0 before the root (it is >= 0 in
exact arithmetic; torch and optax would give NaN for a rounding-level negative value).
A coordinate with eps = 0 and D = 0 (so g = 0) gets no update (0/0 rule).
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._baselines import ema, ema_sq, lr_over
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

REFERENCE = "Tieleman & Hinton (2012), Lecture 6.5 - RMSprop; torch.optim.RMSprop"


class Hyper(NamedTuple):
    learning_rate: float = 1e-2
    decay: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0
    l2: float = 0.0


class State(NamedTuple):
    count: object
    v: object
    a: object  # EMA of g (None unless centered)
    buf: object  # momentum buffer


def _denominator(state, h, static):
    bc = 1.0
    if static["bias_correction"]:
        bc = 1 - h.decay ** as_float(state.count, h.decay)
    if state.a is None:
        var = tree_map(lambda v: v / bc, state.v)
    else:
        var = tree_map(lambda v, a: jnp.maximum(v / bc - (a / bc) ** 2, 0), state.v, state.a)
    if static["eps_in_sqrt"]:
        return tree_map(lambda u: jnp.sqrt(u + h.eps), var)
    return tree_map(lambda u: jnp.sqrt(u) + h.eps, var)


def make(
    centered: bool = False, eps_in_sqrt: bool = False, bias_correction: bool = False
) -> Optimizer:
    static = {
        "centered": bool(centered),
        "eps_in_sqrt": bool(eps_in_sqrt),
        "bias_correction": bool(bias_correction),
    }

    def init(params, hyper):
        del hyper
        z = zeros_like_tree
        return State(init_count(), z(params), z(params) if static["centered"] else None, z(params))

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)
        v = ema_sq(h.decay, state.v, g)
        a = ema(h.decay, state.a, g) if static["centered"] else None
        new_state = State(state.count + 1, v, a, state.buf)
        den = _denominator(new_state, h, static)
        buf = tree_map(lambda b, g, s: h.momentum * b + safe_div(g, s), state.buf, g, den)
        return step_from(params, buf, h.learning_rate), new_state._replace(buf=buf)

    return Optimizer("rmsprop", init, step, Hyper(), static, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = lr / D_t (relative to g_t, before momentum); denominator D_t."""
    del grads
    den = _denominator(new_state, hyper, static)
    return lr_over(hyper.learning_rate, den)


ENTRY = OptimizerEntry(
    id="rmsprop",
    make=make,
    summary="RMSprop (torch form): g / (sqrt(EMA g^2) + eps), optional momentum and centring",
    paper=REFERENCE,
    eps="outside the root, no bias correction (torch); eps_in_sqrt=True: inside (optax default)",
    decay="l2: coupled (torch weight_decay)",
    bounds={"decay": (0.0, 1.0, "[)")},
    static_choices={
        "centered": (False, True),
        "eps_in_sqrt": (False, True),
        "bias_correction": (False, True),
    },
    diagnostics=diagnostics,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={"learning_rate": "η", "decay": "α", "eps": "ε"},
    bibtex="""@misc{tieleman2012rmsprop,
  title        = {Lecture 6.5 -- {RMSprop}: Divide the gradient by a running average of its
                  recent magnitude},
  author       = {Tieleman, Tijmen and Hinton, Geoffrey},
  howpublished = {COURSERA: Neural Networks for Machine Learning},
  year         = {2012}
}""",
)
