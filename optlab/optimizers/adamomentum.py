"""AdaMomentum: Adam whose second moment is the EMA of the squared *momentum*.

"Adapting Stepsizes by Momentumized Gradients Improves Optimization and Generalization"
(ICLR 2022 submission, arXiv:2106.11514; published as AdaM3, ICDM 2023), Algorithm 1;
official code wyzjack/AdaM3. docs/optimizers.md#adamomentum.

Update, t = 1, 2, ... (m_0 = v_0 = 0)::

    g_t <- g_t + l2 x_{t-1}                              (coupled decay, if any)
    m_t = b1 m_{t-1} + (1 - b1) g_t
    v_t = b2 v_{t-1} + (1 - b2) m_t^2 + eps              (the updated m_t; eps every step: E5)
    x_t = (1 - mu - lr wd) x_{t-1} - lr m_hat_t / sqrt(v_hat_t)       (no eps outside)

with m_hat = m/(1 - b1^t), v_hat = v/(1 - b2^t). Equivalently (paper section 3.1)
m_hat / sqrt(v'_hat + eps/(1 - b2)) with v' the eps-free EMA of m^2.

Symbols -> hyperparameters: alpha -> ``learning_rate``, beta1/beta2 -> ``b1``/``b2``,
epsilon -> ``eps``; the official ``weight_decay`` -> ``l2`` (``weight_decouple=False``,
the paper's CIFAR runs), ``weight_decay`` (``weight_decouple=True``, the code's default:
decoupled, scaled by lr) or ``mu`` (``fixed_decay=True``: un-scaled). Decoupled decays
multiply x_{t-1} before the step, as the code does.
Defaults: lr = 1e-3, (0.9, 0.999), eps = 1e-8 (the paper's vision setting; 1e-16 for the
others and in the code), no decay.

Departures: none from Alg. 1 (OCR fix: line 9 prints m_t/sqrt(b_t); it is
m_hat_t/sqrt(v_hat_t)). The code's ``amsgrad`` and RAdam-style ``rectify`` options are not
in the paper and are not implemented (docs/optimizers.md#choices). With eps = 0 a coordinate with
v = 0 (momentum always 0) gets a 0 step instead of 0/0.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._common import (
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

REFERENCE = (
    "Wang et al. (2021), AdaMomentum: Adapting Stepsizes by Momentumized Gradients Improves "
    "Optimization and Generalization, arXiv:2106.11514, Alg. 1; official code wyzjack/AdaM3"
)


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    l2: float = 0.0
    weight_decay: float = 0.0
    mu: float = 0.0


class State(NamedTuple):
    count: object
    m: object
    v: object  # EMA of m^2 with eps added every step


def denominators(state, h):
    """sqrt(v_hat_t): what m_hat_t is divided by (eps is already inside v)."""
    _, bc2 = bias_corrections(state.count, h.b1, h.b2)
    return tree_map(lambda v: jnp.sqrt(v / bc2), state.v)


def make() -> Optimizer:
    def init(params, hyper):
        del hyper
        return State(init_count(), zeros_like_tree(params), zeros_like_tree(params))

    def step(params, grads, state, h):
        grads = l2_coupled(grads, params, h.l2)
        count = state.count + 1
        m = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, grads)
        v = tree_map(lambda v, m: h.b2 * v + (1 - h.b2) * m * m + h.eps, state.v, m)
        new_state = State(count, m, v)
        bc1, _ = bias_corrections(count, h.b1, h.b2)
        d = tree_map(lambda m, s: safe_div(m / bc1, s), m, denominators(new_state, h))
        new = step_from(params, d, h.learning_rate, mu=h.mu, weight_decay=h.weight_decay)
        return new, new_state

    return Optimizer("adamomentum", init, step, Hyper(), {}, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = lr / sqrt(v_hat_t) (the elementwise scale of m_hat_t), denominator
    sqrt(v_hat_t)."""
    del grads, static
    den = denominators(new_state, hyper)
    step = tree_map(lambda s: safe_div(hyper.learning_rate * jnp.ones_like(s), s), den)
    return {"step_size": step, "denominator": den}


ENTRY = OptimizerEntry(
    id="adamomentum",
    make=make,
    summary="AdaMomentum (AdaM3): Adam with the EMA of m^2 as second moment, eps in the EMA",
    paper="AdaMomentum, arXiv:2106.11514 (ICLR'22 submission; AdaM3, ICDM'23), Algorithm 1",
    eps="E5: eps added to the v-EMA every step, no eps outside the root",
    decay="l2: coupled; weight_decay: decoupled, scaled by lr; mu: decoupled, un-scaled",
    diagnostics=diagnostics,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={"learning_rate": "α", "b1": "β1", "b2": "β2", "eps": "ε"},
    bibtex="""@article{wang2021adamomentum,
  title   = {Adapting Stepsizes by Momentumized Gradients Improves Optimization and
             Generalization},
  author  = {Wang, Yizhou and Kang, Yue and Qin, Can and Xu, Yi and Wang, Huan and
             Zhang, Yulun and Fu, Yun},
  journal = {arXiv preprint arXiv:2106.11514},
  year    = {2021}
}""",
)
