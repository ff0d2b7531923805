"""``--tuned best.csv`` for run and trajectory: each optimizer at the setting tune chose."""

from __future__ import annotations

from typing import Annotated

import typer

from optlab.errors import UsageError

Tuned = Annotated[
    str | None,
    typer.Option(
        help="best.csv from tune: each optimizer at the setting tune chose, for its horizon."
    ),
]


def _click():
    """Click's context lookup and parameter sources (Typer >= 0.2x vendors Click)."""
    try:
        from typer._click.core import ParameterSource
        from typer._click.globals import get_current_context
    except ImportError:
        from click.core import ParameterSource
        from click.globals import get_current_context
    return get_current_context, ParameterSource


def given(name: str) -> bool:
    """Whether the option ``name`` was set (command line or config file), not defaulted;
    outside a command (a library caller) every value counts as given."""
    get_current_context, source = _click()
    ctx = get_current_context(silent=True)
    if ctx is None or name not in ctx.params:
        return True
    return ctx.get_parameter_source(name) is not source.DEFAULT


def apply(tuned: str, problem: str, opt, values: dict, steps: int, seeds: int, dim=None):
    """(optimizer labels, steps, protocol text) for ``--tuned``."""
    from optlab.tuned import for_command

    if values:
        raise UsageError("--tuned sets the hyperparameters; leave out --lr, --b1, ..., --hp")
    extra = (("dim", str(dim)),) if dim is not None else ()
    asked = steps if given("steps") else None
    return for_command(tuned, problem, opt, asked, seeds, extra)
