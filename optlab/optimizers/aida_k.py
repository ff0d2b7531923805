"""Aida-K: AdaBelief on the K-fold mutually projected pair (m, g), per layer (Alg. 3).

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2, Alg. 3 and eqs. (12)-(14); official code
guoqiang-zhang-x/Aida-Optimizer ``Aida.py``. Not Aida(p, q) of arXiv:2112.06125 (id
``aida_pq``), which shares the name and the authors.

Update, t = 1, 2, ... (docs/optimizers.md#aida_k). For each layer l, with
m^(0) = m_l,t and g^(0) = g_l,t, for k = 1..K (both from the (k-1) pair)::

    a_k   = <m^(k-1), g^(k-1)>_l
    m^(k) = a_k / (|g^(k-1)|_l^2 + xi) g^(k-1)        (m projected onto g)
    g^(k) = a_k / (|m^(k-1)|_l^2 + xi) m^(k-1)        (g projected onto m)

and then, per coordinate::

    g_t = grad f(x_{t-1}) + l2 x_{t-1};   m_t = b1 m_{t-1} + (1 - b1) g_t
    v_t = b2 v_{t-1} + (1 - b2) (m^(K) - g^(K))^2 + eps                   (E5)
    x_t = (1 - lr weight_decay) x_{t-1} - lr (m_t / (1 - b1^t)) / sqrt(v_t / (1 - b2^t))

Symbols -> hyperparameters: eta -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps``, xi -> ``xi``, L2 penalty -> ``l2`` (the official code's only decay),
decoupled decay -> ``weight_decay`` (optlab addition). Static: ``k`` = K (int >= 0,
default 2; K = 0 is AdaBelief without outer eps) and ``layers`` in {"leaf" (default), "coord",
"chunk:N"}: only the projection scalars are per layer, v is per coordinate.
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8, xi = 1e-20, K = 2 (official code).

Departures from the paper: Alg. 3 lines 5-15 are garbled in the source and rebuilt from
eqs. (12)-(14), Alg. 5 and the code; eq. (13)'s left side g^(k-1) is read as g^(k); v_0 = 0;
the missing update line is x_t = x_{t-1} - lr m~/sqrt(v~). The official code scales copies
of g and m in place (labels alternate), which gives the same residual (m^(K) - g^(K))^2.
Paper Alg. 3 asks K >= 1; K = 0 is allowed here. With xi = 0 a zero vector projects to 0
(0/0 -> 0); with eps = 0, a coordinate whose v is 0 gets a zero step.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers import _layerwise as lw
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = f"{lw.PAPER}, Alg. 3 (Aida), eqs. (12)-(14)"


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    xi: float = 1e-20
    l2: float = 0.0
    weight_decay: float = 0.0


class State(NamedTuple):
    count: object  # int32 step counter t
    m: object  # first moment, per coordinate
    v: object  # EMA of (m^(K) - g^(K))^2 (+ eps), per coordinate


def make(k: int = 2, layers: str = "leaf") -> Optimizer:
    return lw.build(
        "aida_k",
        kind="elem",
        statistic=lw.stat_aida,
        state_cls=State,
        hyper=Hyper(),
        static={"k": lw.check_k(k), "layers": layers},
        reference=REFERENCE,
    )


ENTRY = OptimizerEntry(
    id="aida_k",
    make=make,
    summary="Aida-K: AdaBelief on K layerwise mutual projections of (m, g) (not aida_pq)",
    paper=REFERENCE,
    eps="E5: eps added to the v-EMA every step; m~/sqrt(v~), no outer eps; xi guards projections",
    decay=lw.DECAY,
    bibtex=lw.BIBTEX,
    bounds={"xi": (0.0, None)},
    diagnostics=lw.make_diagnostics("elem"),
)
