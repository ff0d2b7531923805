"""AidaGrad: Adam with the gradient replaced by its layerwise projection onto m (Alg. 4).

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2, Appendix A, Alg. 4.

Update, t = 1, 2, ... (docs/optimizers.md#aidagrad)::

    g_t      = grad f(x_{t-1}) + l2 x_{t-1}
    m_t      = b1 m_{t-1} + (1 - b1) g_t
    g^p_l,t  = <m_l,t, g_l,t> / (|m_l,t|^2 + xi) m_l,t          (per layer)
    v_t      = b2 v_{t-1} + (1 - b2) (g^p_t)^2 + eps             (per coordinate, E5)
    x_t      = (1 - lr weight_decay) x_{t-1} - lr (m_t / (1 - b1^t)) / sqrt(v_t / (1 - b2^t))

Symbols -> hyperparameters: eta -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps``, xi -> ``xi``, L2 penalty -> ``l2``, decoupled decay -> ``weight_decay``.
Static: ``layers`` in {"leaf" (default), "coord", "chunk:N"}.
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8, xi = 1e-20 (the family's).

Departures from the paper: Alg. 4 line 11 prints lr m_t/sqrt(n~_t), read as lr m~_t/sqrt(v~_t)
(bias-corrected m, as line 10 computes it); the garbled "rac" is a \\frac. The statistic is
(g^p)^2 as printed, not a residual (docs/optimizers.md#choices). Both decay terms are
optlab choices (the paper's experiments use L2). With eps = 0, a coordinate whose v is 0 (m
orthogonal to g so far) gets a zero step. No official code exists.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers import _layerwise as lw
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = f"{lw.PAPER}, Appendix A, Alg. 4 (AidaGrad)"


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
    v: object  # EMA of (g^p)^2 (+ eps), per coordinate


def make(layers: str = "leaf") -> Optimizer:
    return lw.build(
        "aidagrad",
        kind="elem",
        statistic=lw.stat_aidagrad,
        state_cls=State,
        hyper=Hyper(),
        static={"layers": layers},
        reference=REFERENCE,
    )


ENTRY = OptimizerEntry(
    id="aidagrad",
    make=make,
    summary="AidaGrad: Adam on the layerwise projection of g onto m (appendix)",
    paper=REFERENCE,
    eps="E5: eps added to the v-EMA every step; m~/sqrt(v~), no outer eps; xi guards projection",
    decay=lw.DECAY,
    bibtex=lw.BIBTEX,
    bounds={"xi": (0.0, None)},
    diagnostics=lw.make_diagnostics("elem"),
)
