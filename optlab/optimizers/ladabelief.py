"""LAdaBelief: AdaBelief with pre-processed layerwise stepsizes (Algorithm 2).

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2, Alg. 2 with the footnote "LAdaBelief is
obtained by replacing |g_l,t|^2 with |m_l,t - g_l,t|^2"; official code
guoqiang-zhang-x/Aida-Optimizer ``LAdaBelief.py``.

Update, t = 1, 2, ... (docs/optimizers.md#ladabelief)::

    g_t    = grad f(x_{t-1}) + l2 x_{t-1}
    m_t    = b1 m_{t-1} + (1 - b1) g_t                         (per coordinate)
    v_l,t  = b2 v_l,t-1 + (1 - b2) mean_l[(m_l,t - g_l,t)^2] + eps   (updated m; per layer, E5)
    x_l,t  = (1 - lr weight_decay) x_l,t-1 - lr (m_l,t / (1 - b1^t)) / sqrt(v_l,t / (1 - b2^t))

Symbols -> hyperparameters: eta -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps``, L2 penalty -> ``l2`` (official default), decoupled decay ->
``weight_decay`` (official ``weight_decouple=True``). Static: ``layers`` in
{"leaf" (default), "coord", "chunk:N"}. The state ``v`` holds one (L,) array per leaf.
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8 (paper and code); no decay.

Departures from the paper: none. Not implemented from the official code: ``fixed_decay``,
``amsgrad``, ``rectify`` (off by default there, absent from the paper). With eps = 0, a
layer with zero residual so far gets a zero step (0/0 -> 0).
"""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers import _layerwise as lw
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = f"{lw.PAPER}, Alg. 2 (LAdaBelief variant), eqs. (6), (11)"


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
    v: object  # EMA of mean_l[(m - g)^2] (+ eps): one (L,) array per leaf


def make(layers: str = "leaf") -> Optimizer:
    return lw.build(
        "ladabelief",
        kind="pre",
        statistic=lw.stat_belief,
        state_cls=State,
        hyper=Hyper(),
        static={"layers": layers},
        reference=REFERENCE,
    )


ENTRY = OptimizerEntry(
    id="ladabelief",
    make=make,
    summary="LAdaBelief: AdaBelief with one second moment per layer, mean_l[(m-g)^2]",
    paper=REFERENCE,
    eps="E5: eps added to the per-layer v-EMA every step; m~/sqrt(v~_l), no outer eps",
    decay=lw.DECAY,
    bibtex=lw.BIBTEX,
    diagnostics=lw.make_diagnostics("pre"),
)
