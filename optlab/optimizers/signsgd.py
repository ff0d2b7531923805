"""signSGD: step along the sign of the gradient (Bernstein, Wang, Azizzadenesheli, Anandkumar).

"signSGD: Compressed Optimisation for Non-Convex Problems", ICML 2018, Algorithm 1.
Update, t = 1, 2, ...::

    x_t = x_{t-1} - lr sgn(g_t)            (sgn(0) = 0, as jnp.sign and torch.sign)

Symbols -> hyperparameters: delta (step) -> ``learning_rate``. Default lr = 1e-3.
Equals ``optax.sign_sgd(lr)`` and pytorch-optimizer's ``SignSGD(momentum=0)``. signSGD is
Adam with b1 = b2 = 0 and eps = 0, hence invariant to rescaling f. A coordinate with g = 0
does not move (sgn(0) = 0, docs/optimizers.md#choices).

Departures: none. No weight decay (docs/optimizers.md#baselines). Signum (the momentum
variant, optax ``signum``) is not part of this file.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._baselines import lr_over
from optlab.optimizers._common import init_count, step_from, tree_map
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = (
    "Bernstein, Wang, Azizzadenesheli, Anandkumar (2018), signSGD: Compressed Optimisation "
    "for Non-Convex Problems, ICML, Alg. 1"
)


class Hyper(NamedTuple):
    learning_rate: float = 1e-3


class State(NamedTuple):
    count: object


def make() -> Optimizer:
    def init(params, hyper):
        del params, hyper
        return State(init_count())

    def step(params, grads, state, h):
        d = tree_map(jnp.sign, grads)
        return step_from(params, d, h.learning_rate), State(state.count + 1)

    return Optimizer("signsgd", init, step, Hyper(), {}, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """sgn(g) = g/|g|: step_size = lr/|g| (relative to g_t, 0 where g = 0); denominator |g|."""
    del new_state, static
    den = tree_map(jnp.abs, grads)
    return lr_over(hyper.learning_rate, den)


ENTRY = OptimizerEntry(
    id="signsgd",
    make=make,
    summary="signSGD: x <- x - lr sgn(g), sgn(0) = 0",
    paper=REFERENCE,
    eps="- (no eps)",
    decay="none",
    diagnostics=diagnostics,
    state_roles={"count": "counter"},
    fixed_point_note="sign update: discontinuous at z*; expect a bounded oscillation of size ~lr",
    symbols={"learning_rate": "δ"},
    bibtex="""@inproceedings{bernstein2018signsgd,
  title     = {{signSGD}: Compressed Optimisation for Non-Convex Problems},
  author    = {Bernstein, Jeremy and Wang, Yu-Xiang and Azizzadenesheli, Kamyar and
               Anandkumar, Animashree},
  booktitle = {Proceedings of the 35th International Conference on Machine Learning},
  series    = {Proceedings of Machine Learning Research},
  volume    = {80},
  pages     = {560--569},
  year      = {2018}
}""",
)
