"""AdamL: Adam with post-processed layerwise stepsizes (Algorithm 1).

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2, Alg. 1 and eqs. (8)-(10).

Update, t = 1, 2, ... (docs/optimizers.md#adaml)::

    g_t     = grad f(x_{t-1}) + l2 x_{t-1}
    m_t     = b1 m_{t-1} + (1 - b1) g_t
    v_t     = b2 v_{t-1} + (1 - b2) g_t^2 + eps               (per coordinate, E5)
    gamma_l = mean_l[ 1 / sqrt(v_t / (1 - b2^t)) ]            (one scalar per layer)
    x_l,t   = (1 - lr weight_decay) x_l,t-1 - lr gamma_l m_l,t / (1 - b1^t)

Symbols -> hyperparameters: eta -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps`` (must be > 0), L2 penalty -> ``l2``, AdamW decay -> ``weight_decay``.
Static: ``layers`` in {"leaf" (default), "coord", "chunk:N"}.
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8 (the paper's CIFAR setting); no decay.

Departures from the paper: Alg. 1 line 7 prints 1 - beta_t^t, read as 1 - b1^t (eq. 10).
eps = 0 is refused (gamma would be infinite for a layer holding a coordinate whose gradient
was always 0); a coordinate with m = 0 never moves even if gamma = inf. The decoupled
``weight_decay`` is an optlab addition (the paper uses L2 = ``l2``). No official code exists.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers import _layerwise as lw
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = f"{lw.PAPER}, Alg. 1 (AdamL), eqs. (8)-(10)"


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
    v: object  # EMA of g^2 (+ eps), per coordinate


def make(layers: str = "leaf") -> Optimizer:
    return lw.build(
        "adaml",
        kind="post",
        statistic=lw.stat_adam,
        state_cls=State,
        hyper=Hyper(),
        static={"layers": layers},
        reference=REFERENCE,
    )


ENTRY = OptimizerEntry(
    id="adaml",
    make=make,
    summary="AdamL: Adam whose stepsizes are replaced by their layer mean gamma_l",
    paper=REFERENCE,
    eps="E5: eps added to the v-EMA every step; gamma_l = mean_l[1/sqrt(v~)], no outer eps",
    decay=lw.DECAY,
    bibtex=lw.BIBTEX,
    bounds={"eps": lw.EPS_POSITIVE},
    diagnostics=lw.make_diagnostics("post"),
)
