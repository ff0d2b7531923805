"""Names -> optimizers and problems, with close-match suggestions.

The only module that imports the ``problems`` package. Errors are
:class:`optlab.errors.UsageError` with one line of text.
"""

from __future__ import annotations

import inspect

import problems
from optlab.errors import UsageError, unknown
from optlab.optimizers import AMBIGUOUS, OptimizerEntry, entries
from optlab.types import Optimizer


def optimizer_ids() -> list[str]:
    return list(entries())


def problem_ids() -> list[str]:
    return list(problems.PROBLEMS)


def optimizer_entry(name: str) -> OptimizerEntry:
    if name in AMBIGUOUS:
        raise UsageError(AMBIGUOUS[name])
    table = entries()
    if name not in table:
        raise unknown("optimizer", name, list(table) + list(AMBIGUOUS))
    return table[name]


def static_options(entry: OptimizerEntry) -> dict[str, object]:
    """Structural options of the factory with their defaults."""
    sig = inspect.signature(entry.make)
    return {k: p.default for k, p in sig.parameters.items() if p.default is not p.empty}


def _convert_static(entry: OptimizerEntry, key: str, text: str, default):
    choices = entry.static_choices.get(key)
    if choices is not None:
        for c in choices:
            if str(c).lower() == text.lower() or (
                isinstance(c, bool) and text.lower() in (("true", "1") if c else ("false", "0"))
            ):
                return c
        raise UsageError(
            f"{entry.id}: {key} must be one of {', '.join(str(c) for c in choices)}, got {text!r}"
        )
    if isinstance(default, bool):
        if text.lower() in ("true", "1", "false", "0"):
            return text.lower() in ("true", "1")
        raise UsageError(f"{entry.id}: {key} must be true or false, got {text!r}")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise UsageError(f"{entry.id}: {key} must be an integer, got {text!r}") from None
    return text


def split_settings(entry: OptimizerEntry, settings: dict[str, list[str]]):
    """Bracket settings -> (static options, numeric value lists as strings)."""
    hyper_names = entry.make().hyper._fields
    options = static_options(entry)
    static, numeric = {}, {}
    for key, values in settings.items():
        if key in hyper_names:
            numeric[key] = values
        elif key in options:
            if len(values) != 1:
                raise UsageError(f"{entry.id}: the structural option {key} takes one value")
            static[key] = _convert_static(entry, key, values[0], options[key])
        else:
            known = ", ".join(list(hyper_names) + list(options))
            raise UsageError(
                f"{entry.id} has no hyperparameter or option {key!r} (it has: {known})"
            )
    return static, numeric


def make_optimizer(entry: OptimizerEntry, static: dict[str, object]) -> Optimizer:
    try:
        return entry.make(**static)
    except (ValueError, TypeError) as err:
        raise UsageError(f"{entry.id}: {err}") from None


def get_problem(name: str, options: dict[str, object] | None = None):
    pid = problems.resolve(name)
    if pid is None:
        raise unknown("problem", name, list(problems.PROBLEMS) + list(problems.ALIASES))
    entry = problems.PROBLEMS[pid]
    options = dict(options or {})
    for key in options:
        if key not in entry.defaults:
            have = ", ".join(entry.defaults) or "none"
            raise UsageError(f"problem {pid} has no option {key!r} (options: {have})")
    try:
        return entry.make(**options)
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None


def problem_entry(name: str):
    pid = problems.resolve(name)
    if pid is None:
        raise unknown("problem", name, list(problems.PROBLEMS) + list(problems.ALIASES))
    return problems.PROBLEMS[pid]
