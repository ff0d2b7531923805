"""Fromage: layerwise relative-norm steps (Bernstein, Vahdat, Yue, Liu, NeurIPS 2020).

"On the distance between two neural networks and the stability of learning", Algorithm 1;
implemented as the official code jxbz/fromage (``fromage.py``, docs/optimizers.md#fromage).
Update, t = 1, 2, ..., for each layer l (norms are Euclidean norms over the layer)::

    if ||x_l|| > 0 and ||g_l|| > 0:   y_l = x_l - lr (||x_l|| / ||g_l||) g_l
    else:                             y_l = x_l - lr g_l
    x_l <- y_l / sqrt(1 + lr^2)
    p_bound (optional):  r_l = p_bound ||x_{l,0}||;  if ||x_l|| > r_l:  x_l <- x_l r_l / ||x_l||

A gradient orthogonal to x_l leaves ||x_l|| unchanged: ||y_l||^2 = (1 + lr^2) ||x_l||^2.

Symbols -> hyperparameters: eta -> ``learning_rate``. Static ``layers`` ("leaf" = one layer
per pytree leaf, as the official code's one layer per parameter tensor; "coord"; "chunk:N";
docs/optimizers.md#layers) and ``p_bound`` (None = off, as the official default; a float
adds the per-layer radius r_l to the state, computed from x_0 in ``init``).

Defaults: lr = 0.01 (official and Zhang, Niwa, Kleijn, arXiv:2203.13273). No eps and no weight decay
(the division by sqrt(1 + lr^2) is Fromage's own built-in shrinkage). ``optax.fromage(lr,
min_norm=0.0)`` equals this file with ``layers="leaf"``; optax's default min_norm = 1e-6 clips both
norms from below, so a layer with x_l = 0 (or g_l = 0) gets the trust ratio 1e-6/||g_l|| instead of
the official 1. pytorch-optimizer's Fromage is exact.

Departures: none from the official code.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._common import init_count, tree_map
from optlab.optimizers._entry import OptimizerEntry
from optlab.optimizers._layers import groups, parse_layers, ungroup
from optlab.types import Optimizer

REFERENCE = (
    "Bernstein, Vahdat, Yue, Liu (2020), On the distance between two neural networks and the "
    "stability of learning, NeurIPS, Alg. 1; official code jxbz/fromage"
)


class Hyper(NamedTuple):
    learning_rate: float = 0.01


class State(NamedTuple):
    count: object
    radius: object  # per-layer p_bound * ||x_{l,0}||, shape (L, 1) per leaf; None unless p_bound


def _layer_norm(x, layers):
    """Per-layer Euclidean norms of the leaf x, as an (L, 1) array."""
    g = groups(x, layers)
    return jnp.sqrt(jnp.sum(g * g, axis=1, keepdims=True))


def make(layers: str = "leaf", p_bound: float | None = None) -> Optimizer:
    spec = parse_layers(layers)
    if p_bound is not None:
        p_bound = float(p_bound)
        if not p_bound > 0:
            raise ValueError(f"fromage: p_bound must be > 0 or None, got {p_bound!r}")

    def init(params, hyper):
        del hyper
        if p_bound is None:
            return State(init_count(), None)
        return State(init_count(), tree_map(lambda x: p_bound * _layer_norm(x, spec), params))

    def leaf_step(x, g, lr):
        nx, ng = _layer_norm(x, spec), _layer_norm(g, spec)
        ok = (nx > 0) & (ng > 0)
        ratio = jnp.where(ok, nx / jnp.where(ok, ng, 1), 1)
        y = x - lr * ungroup(ratio, x) * g
        return y / jnp.sqrt(1 + lr * lr)

    def bound(x, r):
        n = _layer_norm(x, spec)
        over = n > r
        scale = jnp.where(over, r / jnp.where(over, n, 1), 1)
        return x * ungroup(scale, x)

    def step(params, grads, state, h):
        new = tree_map(lambda x, g: leaf_step(x, g, h.learning_rate), params, grads)
        if p_bound is not None:
            new = tree_map(bound, new, state.radius)
        return new, State(state.count + 1, state.radius)

    static = {"layers": layers, "p_bound": p_bound}
    return Optimizer("fromage", init, step, Hyper(), static, REFERENCE)


ENTRY = OptimizerEntry(
    id="fromage",
    make=make,
    summary="Fromage: x_l - lr ||x_l||/||g_l|| g_l, then / sqrt(1 + lr^2), per layer",
    paper=REFERENCE,
    eps="- (no eps; zero norms give the plain step x - lr g)",
    decay="none (built-in shrinkage by sqrt(1 + lr^2))",
    state_roles={"count": "counter"},
    fixed_point_note="ratio ||x||/||g||: infinite times zero at g = 0 (degenerate at z*)",
    symbols={"learning_rate": "η"},
    bibtex="""@inproceedings{bernstein2020distance,
  title     = {On the distance between two neural networks and the stability of learning},
  author    = {Bernstein, Jeremy and Vahdat, Arash and Yue, Yisong and Liu, Ming-Yu},
  booktitle = {Advances in Neural Information Processing Systems},
  volume    = {33},
  year      = {2020}
}""",
)
