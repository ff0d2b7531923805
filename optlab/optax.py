"""Every registered optimizer as an ``optax.GradientTransformation`` (one implementation).

``optlab.optax.aida_pq(learning_rate=1e-3, p=1, q=2, form="a")`` takes the optimizer's
numeric hyperparameters and its structural options as keyword arguments and returns a
transformation whose ``update(grads, state, params)`` yields ``new_params - params``
(``params`` is required: the step maps parameters to parameters).

- The signature holds the numeric hyperparameters only; structural options (``form``,
  aida_k's ``k``, adamal's ``lower``/``upper``/``radius``, ...) go through ``**options``, so
  ``optax.inject_hyperparams(olx.aida_k)(learning_rate=1e-3, k=3)`` schedules the numbers
  and keeps ``k`` a Python int.
- Hyperparameters take the dtype of the floating leaves of ``params``; integer leaves are
  passed through untouched (zero update) and never set a dtype; ``{}`` works.
- A hyperparameter the dtype cannot hold (eps = 1e-50 in float32 rounds to 0) is refused
  with a ValueError rather than rounded. Under ``optax.inject_hyperparams`` optax casts the
  numbers before optlab sees them: a default that float32 rounds to 0 (aida_pq's eps) is
  then refused too, so pass such a hyperparameter explicitly.
- Nothing global changes: this module computes in the caller's JAX precision.

Plug-in optimizers get the same view: ``optlab.optax.<id>`` resolves ids in the plug-in
scope (``with optlab.with_plugins(["lion.py"]): optlab.optax.lion(...)``), and
``from_entry(entry)`` builds the factory from an ``OptimizerEntry`` directly.
"""

from __future__ import annotations

import numpy as np

from optlab._jax import jax, jnp


def _floating(leaf) -> bool:
    return jnp.issubdtype(jnp.result_type(leaf), jnp.floating)


def _concrete(value):
    """A hyperparameter's value as a Python float, or None when it is traced."""
    try:
        return float(value)
    except (TypeError, jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
        return None


def _refuse_unrepresentable(name: str, key: str, value, default, dtype) -> None:
    """ValueError when ``value`` is a number ``dtype`` cannot hold, or evidently a default
    that optax already rounded to 0 in ``dtype``."""
    v = _concrete(value)
    if v is None or jnp.dtype(dtype) == jnp.float64:
        return
    with np.errstate(over="ignore"):
        cast = float(np.asarray(v, dtype=np.dtype(dtype)))
    what = None
    if v != 0 and cast == 0:
        what = f"{key}={v:g} rounds to 0 in {jnp.dtype(dtype).name}"
    elif np.isfinite(v) and not np.isfinite(cast):
        what = f"{key}={v:g} overflows {jnp.dtype(dtype).name}"
    elif (  # arrays only: a Python 0.0 given to the factory directly is what was asked for
        isinstance(value, jax.Array)
        and v == 0
        and default
        and float(np.asarray(default, dtype=np.dtype(dtype))) == 0
    ):
        what = (
            f"{key} arrived as 0 and its default {default:g} rounds to 0 in "
            f"{jnp.dtype(dtype).name} (optax.inject_hyperparams casts before optlab sees it)"
        )
    if what:
        raise ValueError(
            f"optlab.optax.{name}: {what}; pass {key} explicitly with a value "
            f"{jnp.dtype(dtype).name} can hold, or use float64 parameters "
            "(jax.config.update('jax_enable_x64', True))"
        )


def _split(params):
    """(floating leaves as a tree with None elsewhere, a rebuild function for updates)."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    mask = [_floating(leaf) for leaf in leaves]
    floats = treedef.unflatten([leaf if m else None for leaf, m in zip(leaves, mask, strict=True)])

    def merge(float_updates):
        computed = iter(jax.tree_util.tree_leaves(float_updates))
        out = [
            next(computed) if m else jnp.zeros_like(leaf)
            for leaf, m in zip(leaves, mask, strict=True)
        ]
        return treedef.unflatten(out)

    return floats, any(mask), merge


def transformation(name: str, **kwargs):
    from optlab import registry

    return entry_transformation(registry.optimizer_entry(name), **kwargs)


def entry_transformation(entry, **kwargs):
    """The ``optax.GradientTransformation`` of an ``OptimizerEntry``, built-in or plug-in
    (see the module notes)."""
    import optax

    from optlab import registry

    name = entry.id
    options = registry.static_options(entry)
    kwargs = {**kwargs.pop("options", {}), **kwargs}  # how inject_hyperparams passes them
    opt = entry.make(**{k: v for k, v in kwargs.items() if k in options})
    numeric = {k: v for k, v in kwargs.items() if k not in options}
    unknown = set(numeric) - set(opt.hyper._fields)
    if unknown:
        raise TypeError(f"{name} has no hyperparameter or option {sorted(unknown)}")
    defaults = opt.hyper
    hyper = opt.hyper._replace(**numeric)

    def typed(float_params):
        """Hyperparameters in the floating leaves' dtype (float32 stays float32)."""
        dtypes = [jnp.result_type(x) for x in jax.tree_util.tree_leaves(float_params)]
        dtype = jnp.result_type(*dtypes)
        for key, value in hyper._asdict().items():
            _refuse_unrepresentable(name, key, value, getattr(defaults, key), dtype)
        return jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype), hyper)

    def init(params):
        floats, any_float, _ = _split(params)
        if not any_float:  # {} or integers only: nothing to optimise, no state
            return optax.EmptyState()
        return opt.init(floats, typed(floats))

    def update(updates, state, params=None):
        if params is None:
            raise ValueError(f"optlab.optax.{name} needs params in update()")
        floats, any_float, merge = _split(params)
        if not any_float:
            return jax.tree_util.tree_map(jnp.zeros_like, params), state
        grads = _float_part(updates, params)
        new, state = opt.step(floats, grads, state, typed(floats))
        return merge(jax.tree_util.tree_map(lambda a, b: a - b, new, floats)), state

    return optax.GradientTransformation(init, update)


def _float_part(updates, params):
    """The updates at the floating leaves of ``params`` (None elsewhere)."""
    p_leaves, treedef = jax.tree_util.tree_flatten(params)
    u_leaves = treedef.flatten_up_to(updates)
    kept = [u if _floating(p) else None for u, p in zip(u_leaves, p_leaves, strict=True)]
    return treedef.unflatten(kept)


def _factory(name: str):
    from optlab import registry

    return from_entry(registry.optimizer_entry(name))


def from_entry(entry):
    """A function whose signature lists the numeric hyperparameters with their defaults
    (what ``optax.inject_hyperparams`` may schedule) and ``**options`` for the rest."""
    import inspect

    from optlab import registry

    name = entry.id
    options = registry.static_options(entry)

    def factory(**kwargs):
        return entry_transformation(entry, **kwargs)

    described = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "none"
    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = (
        f"optax view of optlab's {name}: {entry.summary}\n\nStructural options (keywords, "
        f"never scheduled): {described}."
    )
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter(k, kw, default=v) for k, v in entry.make().hyper._asdict().items()]
    params.append(inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD))
    factory.__signature__ = inspect.Signature(params)
    return factory


def __getattr__(name: str):
    from optlab import registry

    if name in registry.optimizer_table():
        return _factory(name)
    raise AttributeError(name)


def __dir__():
    from optlab import registry

    return sorted(list(registry.optimizer_table()) + ["transformation", "from_entry"])
