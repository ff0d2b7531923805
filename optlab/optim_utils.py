"""The building blocks a plug-in optimizer may use (the same ones the built-ins use).

A plug-in file imports from the public API only::

    from optlab import Optimizer, OptimizerEntry
    from optlab.optim_utils import init_count, jnp, step_from, tree_map, zeros_like_tree

``jax`` and ``jnp`` are JAX configured by optlab (float64 on). Every helper works on
pytrees or on single arrays as documented; none keeps state.
"""

from __future__ import annotations

from optlab._jax import jax, jnp
from optlab.optimizers._common import (
    as_float,
    bias_corrections,
    init_count,
    ipow,
    l2_coupled,
    root,
    safe_div,
    signed_pow,
    static_int,
    step_from,
    tree_map,
    zeros_like_tree,
)

__all__ = [
    "as_float",
    "bias_corrections",
    "init_count",
    "ipow",
    "jax",
    "jnp",
    "l2_coupled",
    "root",
    "safe_div",
    "signed_pow",
    "static_int",
    "step_from",
    "tree_map",
    "zeros_like_tree",
]
