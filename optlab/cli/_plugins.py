"""The ``--plugin FILE.py`` option, declared once for every command that takes optimizers
or problems. The files are loaded by the library call (``config.plugins``: run, trajectory,
stability) or by :func:`optlab.registry.with_plugins` around the command's work (list,
check, and through :func:`accepts_plugins` tune and profile)."""

from __future__ import annotations

from typing import Annotated

import typer

PluginFiles = Annotated[
    list[str] | None,
    typer.Option(
        "--plugin",
        metavar="FILE.py",
        help="A plug-in file defining optimizers or problems (ENTRY / ENTRIES records; "
        "repeatable).",
    ),
]


def plugin_paths(values: list[str] | None) -> tuple[str, ...]:
    return tuple(values or ())


def accepts_plugins(command):
    """Give a Typer command ``--plugin FILE.py`` whose files are in scope for the whole
    command (name resolution, the work and the files it saves). Apply it below ``@guarded``
    so that a bad plug-in is one line and exit 2, and below ``@configurable`` so that a
    config file may list plug-ins."""
    import functools
    import inspect

    sig = inspect.signature(command, eval_str=True)
    extra = inspect.Parameter(
        "plugin", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=PluginFiles
    )

    @functools.wraps(command)
    def wrapper(*args, plugin=None, **kwargs):
        from optlab import registry

        with registry.with_plugins(plugin_paths(plugin)):
            return command(*args, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), extra])
    return wrapper


def plugin_sources() -> list[dict]:
    """The plug-ins in scope, for a manifest (path or entry point, sha256, ids)."""
    from optlab import registry

    return registry.plugin_sources()
