"""optlab: a command-line lab for adaptive optimizers on toy problems, compiled with JAX.

Public API (imported lazily, so ``optlab --help`` does not load JAX)::

    from optlab import api, RunConfig
    result = api.run(RunConfig(problem="fun5", hyper=(("p", (1.0,)), ("q", (2.0,)))))
    result.save("runs/fun5")  # only now is anything written

    from optlab import make_sweep, get_optimizer, get_problem, float64
    with float64():  # the low-level runner in float64, without switching the whole process
        trace = make_run(get_problem("fun5", dim=10), get_optimizer("adam"), steps=100)
    import optlab.optax   # every optimizer as an optax.GradientTransformation

Importing optlab changes no JAX setting, environment variable or cache folder.
Writing a plug-in (an optimizer or problem file loaded with ``--plugin``): ``Optimizer``,
``OptimizerEntry`` and ``STATE_ROLES`` from here, the numerical helpers from
:mod:`optlab.optim_utils`, ``Problem`` and ``ProblemEntry`` from ``problems``;
``with_plugins(paths)`` makes plug-in files visible to library calls inside a ``with`` block,
and :mod:`optlab.checks` runs the contract (``optlab check``) on any optimizer.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "RunConfig": ("optlab.config", "RunConfig"),
    "Optimizer": ("optlab.types", "Optimizer"),
    "Trace": ("optlab.types", "Trace"),
    "make_sweep": ("optlab.runner", "make_sweep"),
    "make_run": ("optlab.runner", "make_run"),
    "UsageError": ("optlab.errors", "UsageError"),
    "float64": ("optlab._jax", "float64"),
    "OptimizerEntry": ("optlab.optimizers._entry", "OptimizerEntry"),
    "STATE_ROLES": ("optlab.optimizers._entry", "STATE_ROLES"),
    "with_plugins": ("optlab.registry", "with_plugins"),
}


def get_optimizer(name: str, **static):
    """The Optimizer record of a registered id, built with structural options."""
    from optlab import registry

    return registry.make_optimizer(registry.optimizer_entry(name), static)


def get_problem(name: str, **options):
    """A problem record by id or alias."""
    from optlab import registry

    return registry.get_problem(name, options)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in ("api", "optax", "runner", "stability", "registry", "optim_utils", "checks"):
        import importlib

        return importlib.import_module(f"optlab.{name}")
    raise AttributeError(name)
