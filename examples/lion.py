"""Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms", arXiv:2302.06675,
Algorithm 2), as an optlab plug-in: ``optlab run fun5 --plugin examples/lion.py --opt lion``.

Update, t = 1, 2, ... (g_t the gradient at x_{t-1})::

    c_t = b1 m_{t-1} + (1 - b1) g_t                           (interpolation, for the sign)
    x_t = x_{t-1} - lr * (sign(c_t) + weight_decay * x_{t-1})    (decoupled decay)
    m_t = b2 m_{t-1} + (1 - b2) g_t                           (the momentum that is kept)

with m_0 = 0 and sign(0) = 0. Symbols -> hyperparameters: eta -> ``learning_rate``,
beta1 -> ``b1``, beta2 -> ``b2``, lambda -> ``weight_decay``. Defaults: the paper's
(b1, b2) = (0.9, 0.99); lr = 1e-4 (the paper advises a learning rate 3-10x smaller than
AdamW's); weight_decay = 0 here (the paper's lambda is task-specific). No departures.

Written with the public API only (``optlab.Optimizer``, ``optlab.OptimizerEntry``,
``optlab.optim_utils``), exactly like a built-in optimizer file. ``reference`` below is a
plain NumPy transcription of the same update for ``optlab check lion --plugin
examples/lion.py --reference examples/lion.py:reference``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from optlab import Optimizer, OptimizerEntry
from optlab.optim_utils import init_count, jnp, tree_map, zeros_like_tree

REFERENCE = (
    "Chen et al. (2023), Symbolic Discovery of Optimization Algorithms, arXiv:2302.06675, Alg. 2"
)


class Hyper(NamedTuple):
    learning_rate: float = 1e-4
    b1: float = 0.9
    b2: float = 0.99
    weight_decay: float = 0.0


class State(NamedTuple):
    count: object  # int32 step counter: t after the update
    m: object


def make() -> Optimizer:
    def init(params, hyper):
        del hyper
        return State(init_count(), zeros_like_tree(params))

    def step(params, grads, state, h):
        c = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, grads)
        new = tree_map(
            lambda x, c: x - h.learning_rate * (jnp.sign(c) + h.weight_decay * x), params, c
        )
        m = tree_map(lambda m, g: h.b2 * m + (1 - h.b2) * g, state.m, grads)
        return new, State(state.count + 1, m)

    return Optimizer("lion", init, step, Hyper(), {}, REFERENCE)


def reference(x0, grad, steps, hyper):
    """NumPy transcription of Algorithm 2 (the signature ``optlab check --reference`` calls):
    x0 a float64 vector, grad(x, t) the gradient at step t = 1..steps, hyper the numeric
    hyperparameters by name; returns the iterates x_1..x_steps as a (steps, d) array."""
    lr, b1, b2, wd = (hyper[k] for k in ("learning_rate", "b1", "b2", "weight_decay"))
    x, m = np.array(x0, dtype=np.float64), np.zeros_like(x0, dtype=np.float64)
    out = []
    for t in range(1, steps + 1):
        g = grad(x, t)
        c = b1 * m + (1 - b1) * g
        x = x - lr * (np.sign(c) + wd * x)
        m = b2 * m + (1 - b2) * g
        out.append(x.copy())
    return np.stack(out)


ENTRY = OptimizerEntry(
    id="lion",
    make=make,
    summary="Lion: the sign of an interpolated momentum, decoupled weight decay",
    paper=REFERENCE,
    eps="none (sign update)",
    decay="weight_decay: decoupled, x - lr (sign(c) + wd x)",
    state_roles={"count": "counter"},
    fixed_point_note="sign update: discontinuous at z*; expect a bounded oscillation of size ~lr",
    symbols={"learning_rate": "η", "b1": "β₁", "b2": "β₂", "weight_decay": "λ"},
    bibtex="""@article{chen2023lion,
  title   = {Symbolic Discovery of Optimization Algorithms},
  author  = {Chen, Xiangning and Liang, Chen and Huang, Da and Real, Esteban and Wang, Kaiyuan
             and Liu, Yao and Pham, Hieu and Dong, Xuanyi and Luong, Thang and Hsieh, Cho-Jui
             and Lu, Yifeng and Le, Quoc V.},
  journal = {arXiv preprint arXiv:2302.06675},
  year    = {2023}
}""",
)
