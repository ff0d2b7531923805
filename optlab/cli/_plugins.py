"""The ``--plugin FILE.py`` option, declared once for every command that takes optimizers
or problems. The files are loaded by the library call (``config.plugins``) or, for commands
without a config, by :func:`optlab.registry.with_plugins` around the command's work."""

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
