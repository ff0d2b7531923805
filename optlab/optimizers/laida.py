"""LAida: Aida-K with pre-processed layerwise stepsizes (Algorithm 5).

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2, Appendix A, Alg. 5.

Update, t = 1, 2, ... (docs/optimizers.md#laida). The K mutual projections of Aida-K
(``aida_k``), per layer, with m^(0) = m_l,t, g^(0) = g_l,t::

    m^(k) = <m^(k-1), g^(k-1)>_l / (|g^(k-1)|_l^2 + xi) g^(k-1)
    g^(k) = <m^(k-1), g^(k-1)>_l / (|m^(k-1)|_l^2 + xi) m^(k-1)

then::

    g_t   = grad f(x_{t-1}) + l2 x_{t-1};   m_t = b1 m_{t-1} + (1 - b1) g_t
    v_l,t = b2 v_l,t-1 + (1 - b2) mean_l[(m^(K) - g^(K))^2] + eps     (one scalar per layer, E5)
    x_l,t = (1 - lr weight_decay) x_l,t-1 - lr (m_l,t / (1 - b1^t)) / sqrt(v_l,t / (1 - b2^t))

Symbols -> hyperparameters: eta -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps``, xi -> ``xi``, L2 penalty -> ``l2``, decoupled decay -> ``weight_decay``.
Static: ``k`` = K (int >= 0, default 2) and ``layers`` in {"leaf" (default), "coord",
"chunk:N"}. The state ``v`` holds one (L,) array per leaf.
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8, xi = 1e-20, K = 2.

Departures from the paper: line 9's "... + xi = delta_l,t" and line 10's "|m|_{2,t} eps" are
garbled forms of |g^(k-1)|^2 + xi and |m^(k-1)|^2 + xi; line 14's 1 - beta^t is 1 - b1^t for
m~ and 1 - b2^t for v~; v_l,0 = 0. Paper Alg. 5 asks K >= 1; K = 0 (= LAdaBelief) is allowed.
Both decay terms are optlab choices (the paper's experiments use L2). With eps = 0 a layer
with zero v gets a zero step (0/0 -> 0; x/0 -> 0 if m is exactly orthogonal to g so far).
No official code exists.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers import _layerwise as lw
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = f"{lw.PAPER}, Appendix A, Alg. 5 (LAida)"


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
    v: object  # EMA of mean_l[(m^(K) - g^(K))^2] (+ eps): one (L,) array per leaf


def make(k: int = 2, layers: str = "leaf") -> Optimizer:
    return lw.build(
        "laida",
        kind="pre",
        statistic=lw.stat_aida,
        state_cls=State,
        hyper=Hyper(),
        static={"k": lw.check_k(k), "layers": layers},
        reference=REFERENCE,
    )


ENTRY = OptimizerEntry(
    id="laida",
    make=make,
    summary="LAida: Aida-K with one second moment per layer (appendix)",
    paper=REFERENCE,
    eps="E5: eps added to the per-layer v-EMA every step; m~/sqrt(v~_l), no outer eps",
    decay=lw.DECAY,
    bibtex=lw.BIBTEX,
    bounds={"xi": (0.0, None)},
    diagnostics=lw.make_diagnostics("pre"),
)
