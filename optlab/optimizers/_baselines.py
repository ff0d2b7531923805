"""Private helpers shared by the baseline optimizer files (amsgrad ... signsgd).

Only small pytree building blocks live here; each optimizer file keeps its own update
rule in full so that it can be read against its paper / official code on its own.
"""

from __future__ import annotations

from optlab._jax import jax, jnp
from optlab.optimizers._common import safe_div, tree_map


def ema(b, m, g):
    """b m + (1 - b) g, leafwise (an EMA started from whatever m holds)."""
    return tree_map(lambda m, g: b * m + (1 - b) * g, m, g)


def ema_sq(b, v, g):
    """b v + (1 - b) g^2, leafwise."""
    return tree_map(lambda v, g: b * v + (1 - b) * g * g, v, g)


def tree_maximum(a, b):
    return tree_map(jnp.maximum, a, b)


def full_like_tree(params, value):
    """Every leaf filled with ``value`` (a float or a traced scalar), in the leaf's dtype."""
    return tree_map(lambda x: jnp.full_like(x, value), params)


def scalar_like(params, value):
    """A 0-d array holding ``value`` in the dtype of the first leaf (per-optimizer scalars)."""
    leaves = jax.tree_util.tree_leaves(params)
    dtype = leaves[0].dtype if leaves else jnp.result_type(float)
    return jnp.asarray(value, dtype=dtype)


def check_choice(opt: str, name: str, value, choices: tuple) -> None:
    """A ValueError naming the optimizer when a static option is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{opt}: {name} must be one of {choices}, got {value!r}")


def lr_over(learning_rate, den):
    """The diagnostics pair for a step lr * u / den: {"step_size": lr/den, "denominator": den}
    (step_size 0 where den = 0, the 0/0 rule: there the numerator is 0 too)."""
    step = tree_map(lambda s: safe_div(learning_rate, s), den)
    return {"step_size": step, "denominator": den}
