"""AdaGrad, diagonal form (Duchi, Hazan, Singer, JMLR 2011), as ``torch.optim.Adagrad``.

Update, t = 1, 2, ... (s_0 = ``initial_accumulator_value``)::

    g_t    = grad f(x_{t-1}) + l2 x_{t-1}
    s_t    = s_{t-1} + g_t^2
    lr_t   = lr / (1 + (t - 1) lr_decay)
    x_t    = x_{t-1} - lr_t g_t / (sqrt(s_t) + eps)        (eps_in_sqrt=True: / sqrt(s_t + eps))

Symbols -> hyperparameters: eta -> ``learning_rate``, delta -> ``eps``, s_0 ->
``initial_accumulator_value``, torch's ``lr_decay``, ``l2`` (torch's coupled ``weight_decay``).
Static ``eps_in_sqrt``: False (torch, default) or True (optax's placement).

Defaults are torch's (docs/optimizers.md#choices): lr = 1e-2, eps = 1e-10 outside the
root, s_0 = 0, lr_decay = 0. ``optax.adagrad`` differs in two ways: s_0 = 0.1 and eps = 1e-7
inside the root (plus a zero update where s = 0). ``make(eps_in_sqrt=True)`` with
``initial_accumulator_value=0.1, eps=1e-7`` equals ``optax.adagrad(lr)``.

Departures: none from torch. With eps = 0 a coordinate with s = 0 (so g = 0) gets no update,
which is also what optax's where(s > 0) guard gives.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._baselines import full_like_tree
from optlab.optimizers._common import (
    as_float,
    init_count,
    l2_coupled,
    safe_div,
    step_from,
    tree_map,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = "Duchi, Hazan, Singer (2011), Adaptive Subgradient Methods, JMLR 12 (diagonal AdaGrad)"


class Hyper(NamedTuple):
    learning_rate: float = 1e-2
    eps: float = 1e-10
    initial_accumulator_value: float = 0.0
    lr_decay: float = 0.0
    l2: float = 0.0


class State(NamedTuple):
    count: object
    s: object


def _denominator(s, h, eps_in_sqrt):
    if eps_in_sqrt:
        return tree_map(lambda s: jnp.sqrt(s + h.eps), s)
    return tree_map(lambda s: jnp.sqrt(s) + h.eps, s)


def _lr(count, h):
    return h.learning_rate / (1 + (as_float(count, h.lr_decay) - 1) * h.lr_decay)


def make(eps_in_sqrt: bool = False) -> Optimizer:
    eps_in_sqrt = bool(eps_in_sqrt)

    def init(params, hyper):
        return State(init_count(), full_like_tree(params, hyper.initial_accumulator_value))

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)
        count = state.count + 1
        s = tree_map(lambda s, g: s + g * g, state.s, g)
        d = tree_map(safe_div, g, _denominator(s, h, eps_in_sqrt))
        return step_from(params, d, _lr(count, h)), State(count, s)

    return Optimizer("adagrad", init, step, Hyper(), {"eps_in_sqrt": eps_in_sqrt}, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = lr_t / (sqrt(s_t) + eps) (relative to g_t); denominator sqrt(s_t) + eps."""
    del grads
    den = _denominator(new_state.s, hyper, static["eps_in_sqrt"])
    lr = _lr(new_state.count, hyper)
    return {"step_size": tree_map(lambda s: safe_div(lr, s), den), "denominator": den}


ENTRY = OptimizerEntry(
    id="adagrad",
    make=make,
    summary="AdaGrad (torch form): g / (sqrt(sum of g^2) + eps)",
    paper=REFERENCE,
    eps="outside the root (torch, eps = 1e-10); eps_in_sqrt=True: inside (optax)",
    decay="l2: coupled (torch weight_decay)",
    bounds={"initial_accumulator_value": (0.0, None, "[]"), "lr_decay": (0.0, None, "[]")},
    static_choices={"eps_in_sqrt": (False, True)},
    diagnostics=diagnostics,
    state_roles={"count": "counter", "s": "nonnegative"},
    fixed_point_note="the accumulator only grows: a family of fixed points (eigenvalue 1)",
    symbols={"learning_rate": "η", "eps": "δ"},
    bibtex="""@article{duchi2011adaptive,
  title   = {Adaptive Subgradient Methods for Online Learning and Stochastic Optimization},
  author  = {Duchi, John and Hazan, Elad and Singer, Yoram},
  journal = {Journal of Machine Learning Research},
  volume  = {12}, number = {61}, pages = {2121--2159},
  year    = {2011}
}""",
)
