"""Yogi: Adam with an additive, sign-controlled second-moment update (Zaheer et al., NeurIPS 2018).

Paper: "Adaptive Methods for Nonconvex Optimization", Algorithm 2. Update, t = 1, 2, ...
(m_0 = v_0 = ``initial_accumulator_value`` = 1e-6)::

    g_t = grad f(x_{t-1}) + l2 x_{t-1}
    m_t = b1 m_{t-1} + (1 - b1) g_t
    v_t = v_{t-1} - (1 - b2) sgn(v_{t-1} - g_t^2) g_t^2
    x_t = x_{t-1} - lr * m_hat_t / (sqrt(v_hat_t) + eps)        (E1)

with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t), sgn(0) = 0.

Symbols -> hyperparameters: eta -> ``learning_rate``, beta1/beta2 -> ``b1``/``b2``,
epsilon -> ``eps``, the initial accumulator -> ``initial_accumulator_value``, ``l2``
(coupled decay, the torch-optimizer/pytorch-optimizer ``weight_decouple=False`` form).

Defaults (docs/optimizers.md#yogi): lr = 1e-2, (0.9, 0.999), eps = 1e-3, both moments
started at 1e-6. Equals ``optax.yogi`` (and torch-optimizer's and pytorch-optimizer's Yogi).

Departures: optlab follows the three libraries and the Zhang, Niwa, Kleijn (arXiv:2203.13273)
experiment copy rather than the bare algorithm box (docs/optimizers.md#choices): both moments start
at 1e-6 and both are bias-corrected although the EMAs do not start at zero. Because of that 1e-6,
Yogi is not invariant to rescaling f even with eps = 0. eps = 0 with v = 0 (then m = 0) gives d = 0.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._baselines import ema, full_like_tree, lr_over
from optlab.optimizers._common import (
    bias_corrections,
    init_count,
    l2_coupled,
    safe_div,
    step_from,
    tree_map,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = "Zaheer et al. (2018), Adaptive Methods for Nonconvex Optimization, NeurIPS, Alg. 2"


class Hyper(NamedTuple):
    learning_rate: float = 1e-2
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-3
    initial_accumulator_value: float = 1e-6
    l2: float = 0.0


class State(NamedTuple):
    count: object
    m: object
    v: object


def _denominator(state, h):
    _, bc2 = bias_corrections(state.count, h.b1, h.b2)
    return tree_map(lambda v: jnp.sqrt(v / bc2) + h.eps, state.v)


def make() -> Optimizer:
    def init(params, hyper):
        v0 = hyper.initial_accumulator_value
        return State(init_count(), full_like_tree(params, v0), full_like_tree(params, v0))

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)
        count = state.count + 1
        m = ema(h.b1, state.m, g)
        v = tree_map(lambda v, g: v - (1 - h.b2) * jnp.sign(v - g * g) * (g * g), state.v, g)
        new_state = State(count, m, v)
        bc1, _ = bias_corrections(count, h.b1, h.b2)
        d = tree_map(lambda m, den: safe_div(m / bc1, den), m, _denominator(new_state, h))
        return step_from(params, d, h.learning_rate), new_state

    return Optimizer("yogi", init, step, Hyper(), {}, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = lr / (sqrt(v_hat) + eps) (x_t = x_{t-1} - step_size * m_hat_t)."""
    del grads, static
    den = _denominator(new_state, hyper)
    return lr_over(hyper.learning_rate, den)


ENTRY = OptimizerEntry(
    id="yogi",
    make=make,
    summary="Yogi: v <- v - (1-b2) sgn(v - g^2) g^2, Adam-style step (optax/torch form)",
    paper=REFERENCE,
    eps="E1: m_hat/(sqrt(v_hat)+eps), eps = 1e-3",
    decay="l2: coupled",
    bounds={"initial_accumulator_value": (0.0, None, "[]")},
    diagnostics=diagnostics,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={"learning_rate": "η", "b1": "β1", "b2": "β2", "eps": "ε"},
    bibtex="""@inproceedings{zaheer2018adaptive,
  title     = {Adaptive Methods for Nonconvex Optimization},
  author    = {Zaheer, Manzil and Reddi, Sashank and Sachan, Devendra and Kale, Satyen and
               Kumar, Sanjiv},
  booktitle = {Advances in Neural Information Processing Systems},
  volume    = {31},
  year      = {2018}
}""",
)
