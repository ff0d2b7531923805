"""Consoles, error handling and small printing helpers shared by the commands."""

from __future__ import annotations

import functools
import json
import os
import sys

import typer
from rich.console import Console
from rich.markup import escape

out = Console()  # tables and results
err = Console(stderr=True)  # messages and progress


def fail(message: str, code: int = 2) -> None:
    """One line on stderr and exit ``code``; the message is printed literally (a ``[`` the
    user typed, as in ``adam[b1=0]``, is not taken for markup)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def guarded(fn):
    """Bad input -> one line and exit 2; any other failure -> one line and exit 1
    (set OPTLAB_DEBUG=1 for the traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from optlab.errors import UsageError

        try:
            return fn(*args, **kwargs)
        except UsageError as e:
            fail(str(e), 2)
        except typer.Exit:
            raise
        except Exception as e:  # noqa: BLE001 - a runtime failure is reported, not dumped
            if os.environ.get("OPTLAB_DEBUG"):
                raise
            platforms = os.environ.get("JAX_PLATFORMS")
            if platforms:
                from optlab._jax import backend_starts

                if not backend_starts():
                    fail(
                        f"JAX_PLATFORMS={platforms} names a backend JAX cannot start on "
                        "this machine; optlab stops (unset it, or set JAX_PLATFORMS=cpu)",
                        2,
                    )
            fail(f"{type(e).__name__}: {e}", 1)

    return wrapper


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fmt(value) -> str:
    """Numbers for tables: 4 significant digits, NaN as '-'."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != v:
        return "-"
    return f"{v:.4g}"


def with_progress(call, verb: str, enabled: bool):
    """``call(progress=tick)`` under a transient rich bar on stderr (``tick(fraction)``)
    when ``enabled``, else ``call()``: long work shows progress, pipes and --json stay clean."""
    if not enabled:
        return call()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn(verb),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task(verb, total=1.0)
    with bar:
        return call(progress=lambda frac: bar.update(task, completed=frac))


def literal_help(app) -> None:
    """Show every command's and option's help as written: a ``[`` in it (``'id[key=value,
    ...]'``) is text, not rich markup that the help renderer would swallow. Texts that
    already escape their brackets (``\\[``) are left as they are."""
    import inspect
    from typing import get_args

    from typer.models import ArgumentInfo, OptionInfo

    def literal(text):
        return text if not text or "\\[" in text else escape(text)

    seen: set[int] = set()
    for command in app.registered_commands:
        command.help = literal(command.help)
        for param in inspect.signature(command.callback, eval_str=True).parameters.values():
            for info in get_args(param.annotation)[1:]:
                if isinstance(info, OptionInfo | ArgumentInfo) and id(info) not in seen:
                    seen.add(id(info))
                    info.help = literal(info.help)
