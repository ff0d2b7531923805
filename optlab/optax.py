"""Every registered optimizer as an ``optax.GradientTransformation`` (one implementation).

``optlab.optax.aida_pq(learning_rate=1e-3, p=1, q=2, form="a")`` takes the optimizer's
numeric hyperparameters and structural options as keyword arguments and returns a
transformation whose ``update(grads, state, params)`` yields ``new_params - params``.
``params`` is required (the step maps parameters to parameters). Numeric arguments may be
arrays, so ``optax.inject_hyperparams`` works.

Plug-in optimizers get the same view: ``optlab.optax.<id>`` resolves ids in the plug-in
scope (``with optlab.with_plugins(["lion.py"]): optlab.optax.lion(...)``), and
``from_entry(entry)`` builds the factory from an ``OptimizerEntry`` directly.
"""

from __future__ import annotations

from optlab._jax import jax


def transformation(name: str, **kwargs):
    from optlab import registry

    return entry_transformation(registry.optimizer_entry(name), **kwargs)


def entry_transformation(entry, **kwargs):
    """The ``optax.GradientTransformation`` of an ``OptimizerEntry`` (built-in or plug-in)."""
    import optax

    from optlab import registry

    name = entry.id
    options = registry.static_options(entry)
    static = {k: v for k, v in kwargs.items() if k in options}
    opt = entry.make(**static)
    numeric = {k: v for k, v in kwargs.items() if k not in options}
    unknown = set(numeric) - set(opt.hyper._fields)
    if unknown:
        raise TypeError(f"{name} has no hyperparameter {sorted(unknown)}")
    hyper = opt.hyper._replace(**numeric)

    def typed(params):
        """Hyperparameters in the parameters' float dtype (float32 stays float32)."""
        dtype = jax.numpy.result_type(*jax.tree_util.tree_leaves(params))
        return jax.tree_util.tree_map(lambda v: jax.numpy.asarray(v, dtype), hyper)

    def init(params):
        return opt.init(params, typed(params))

    def update(updates, state, params=None):
        if params is None:
            raise ValueError(f"optlab.optax.{name} needs params in update()")
        new, state = opt.step(params, updates, state, typed(params))
        return jax.tree_util.tree_map(lambda a, b: a - b, new, params), state

    return optax.GradientTransformation(init, update)


def _factory(name: str):
    from optlab import registry

    return from_entry(registry.optimizer_entry(name))


def from_entry(entry):
    """A function with the optimizer's keyword arguments in its signature (so
    ``optax.inject_hyperparams`` can see them) that builds its transformation."""
    import inspect

    from optlab import registry

    name = entry.id
    defaults = {**entry.make().hyper._asdict(), **registry.static_options(entry)}

    def factory(**kwargs):
        return entry_transformation(entry, **kwargs)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"optax view of optlab's {name}: {entry.summary}"
    factory.__signature__ = inspect.Signature(
        [
            inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v)
            for k, v in defaults.items()
        ]
    )
    return factory


def __getattr__(name: str):
    from optlab import registry

    if name in registry.optimizer_table():
        return _factory(name)
    raise AttributeError(name)


def __dir__():
    from optlab import registry

    return sorted(list(registry.optimizer_table()) + ["transformation", "from_entry"])
