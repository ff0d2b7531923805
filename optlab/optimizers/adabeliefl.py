"""AdaBeliefL: AdaBelief with post-processed layerwise stepsizes (Algorithm 1).

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2, Alg. 1 with the footnote "AdaBeliefL is
obtained by replacing g_t^2 with (m_t - g_t)^2".

Update, t = 1, 2, ... (docs/optimizers.md#adabeliefl)::

    g_t     = grad f(x_{t-1}) + l2 x_{t-1}
    m_t     = b1 m_{t-1} + (1 - b1) g_t
    s_t     = b2 s_{t-1} + (1 - b2) (m_t - g_t)^2 + eps       (updated m_t; per coordinate, E5)
    gamma_l = mean_l[ 1 / sqrt(s_t / (1 - b2^t)) ]            (one scalar per layer)
    x_l,t   = (1 - lr weight_decay) x_l,t-1 - lr gamma_l m_l,t / (1 - b1^t)

Symbols -> hyperparameters: eta -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps`` (must be > 0), L2 penalty -> ``l2``, AdamW decay -> ``weight_decay``.
Static: ``layers`` in {"leaf" (default), "coord", "chunk:N"}. The state field holding s is
called ``v`` (shared layout of the family).
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8 (the paper's CIFAR setting); no decay.

Departures from the paper: Alg. 1 line 7 prints 1 - beta_t^t, read as 1 - b1^t. eps = 0 is
refused, as for AdamL; a coordinate with m = 0 never moves. The decoupled ``weight_decay``
is an optlab addition (the paper uses L2 = ``l2``). No official code exists.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers import _layerwise as lw
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = f"{lw.PAPER}, Alg. 1 (AdaBeliefL variant), eqs. (6), (8)-(10)"


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    l2: float = 0.0
    weight_decay: float = 0.0


class State(NamedTuple):
    count: object  # int32 step counter t
    m: object  # first moment, per coordinate
    v: object  # EMA of (m - g)^2 (+ eps), per coordinate: the paper's s


def make(layers: str = "leaf") -> Optimizer:
    return lw.build(
        "adabeliefl",
        kind="post",
        statistic=lw.stat_belief,
        state_cls=State,
        hyper=Hyper(),
        static={"layers": layers},
        reference=REFERENCE,
    )


ENTRY = OptimizerEntry(
    id="adabeliefl",
    make=make,
    summary="AdaBeliefL: AdaBelief whose stepsizes are replaced by their layer mean",
    paper=REFERENCE,
    eps="E5: eps added to the s-EMA every step; gamma_l = mean_l[1/sqrt(s~)], no outer eps",
    decay=lw.DECAY,
    bibtex=lw.BIBTEX,
    bounds={"eps": lw.EPS_POSITIVE},
    diagnostics=lw.make_diagnostics("post"),
)
