"""Small numerical building blocks shared by the optimizer files.

Exponents get a fast path: when a hyperparameter such as Aida's ``p`` is a Python
number with an integer value (the runner bakes integer grid values in as constants),
powers are evaluated with ``lax.integer_pow`` / ``sqrt`` instead of a traced ``pow``,
which is about 17x slower on a CPU. Traced values take the general path; both give
the same numbers up to rounding of the power function itself.
"""

from __future__ import annotations

import numbers

from optlab._jax import jax, jnp

tree_map = jax.tree_util.tree_map


def static_int(value) -> int | None:
    """``value`` as an int when it is a concrete Python number with an integer value."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return int(value) if is_number and float(value).is_integer() else None


def ipow(x, e):
    """x**e for x >= 0; integer Python exponents use repeated multiplication."""
    k = static_int(e)
    if k is not None:
        return jnp.ones_like(x) if k == 0 else x**k
    return jnp.power(x, e)


def root(x, p):
    """x**(1/p) for x >= 0, with sqrt for p = 2 and no power at all for p = 1."""
    k = static_int(p)
    if k == 1:
        return x
    if k == 2:
        return jnp.sqrt(x)
    if k == 4:
        return jnp.sqrt(jnp.sqrt(x))
    return jnp.power(x, 1.0 / p)


def signed_pow(z, q):
    """sgn(z)|z|**q, written so that autodiff gives the right derivative at z = 0.

    For q = 1 this is z itself (d/dz = 1); ``abs(z)**1 * sign(z)`` would differentiate
    to 0 there (docs/stability.md#jacobian). A traced q selects the same branch.
    """
    k = static_int(q)
    if k == 1:
        return z
    if k is not None:
        return jnp.sign(z) * jnp.abs(z) ** k
    return jnp.where(q == 1, z, jnp.sign(z) * jnp.power(jnp.abs(z), q))


def safe_div(num, den):
    """num / den with 0 where den == 0 (the 0/0 rule of docs/optimizers.md#numerics).

    The double ``where`` keeps gradients finite: autodiff never sees a division by 0.
    """
    ok = den > 0
    return jnp.where(ok, num / jnp.where(ok, den, 1), 0)


def as_float(count, like):
    """The int32 step counter as a float of ``like``'s dtype (strict dtype promotion)."""
    return jnp.asarray(count).astype(jnp.result_type(like, float))


def bias_corrections(count, b1, b2):
    """(1 - b1**t, 1 - b2**t) for the 1-based step count t."""
    t1 = as_float(count, b1)
    t2 = as_float(count, b2)
    return 1 - b1**t1, 1 - b2**t2


def zeros_like_tree(params):
    return tree_map(jnp.zeros_like, params)


def l2_coupled(grads, params, l2):
    """g <- g + l2 * x (the 'l2' decay mode), before any statistic is updated."""
    return tree_map(lambda g, x: g + l2 * x, grads, params)


def step_from(params, direction, learning_rate, *, mu=0.0, weight_decay=0.0):
    """x_t = (1 - mu - lr*weight_decay) x_{t-1} - lr * d_t.

    ``mu`` is the un-scaled decoupled decay of the Aida paper, ``weight_decay`` the
    AdamW form (scaled by the learning rate). Both default to 0.
    """
    shrink = 1 - mu - learning_rate * weight_decay
    return tree_map(lambda x, d: shrink * x - learning_rate * d, params, direction)


def init_count():
    return jnp.zeros((), jnp.int32)
