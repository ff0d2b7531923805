"""Names -> optimizers and problems, with close-match suggestions.

The only module that imports the ``problems`` package. Errors are
:class:`optlab.errors.UsageError` with one line of text.

What a name means depends on the plug-ins in scope: the built-ins, the records of installed
packages (entry-point groups ``optlab.optimizers`` / ``optlab.problems``) and, inside
``with with_plugins(paths):``, the records of those files. The scope is a context variable,
so loading a plug-in never changes what another call (or test) sees.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import problems
from optlab import plugins
from optlab.errors import UsageError, unknown
from optlab.optimizers import AMBIGUOUS, OptimizerEntry, entries
from optlab.types import Optimizer

_SCOPE: ContextVar[plugins.Loaded | None] = ContextVar("optlab_plugin_scope", default=None)
_INSTALLED: dict[tuple, plugins.Loaded] = {}  # the last entry-point scan, by what it saw


def _builtin_names() -> tuple[set[str], set[str]]:
    return set(entries()) | set(AMBIGUOUS), set(problems.PROBLEMS) | set(problems.ALIASES)


def installed() -> plugins.Loaded:
    """Records of installed packages, checked against the built-ins. Scanned again when
    ``sys.path`` or ``importlib.metadata.entry_points`` changes (a test's fake package)."""
    import importlib.metadata

    key = (importlib.metadata.entry_points, tuple(sys.path))
    if key not in _INSTALLED:
        total = plugins.Loaded()
        for one in plugins.load_entry_points():
            total = plugins.join(total, one, *_builtin_names())
        _INSTALLED.clear()
        _INSTALLED[key] = total
    return _INSTALLED[key]


def active() -> plugins.Loaded:
    """The plug-in records visible here (installed packages plus the files in scope)."""
    scope = _SCOPE.get()
    return installed() if scope is None else scope


@contextmanager
def with_plugins(paths: Iterable[str | Path] = ()) -> Iterator[plugins.Loaded]:
    """Make the optimizers and problems of plug-in files visible inside the block (nested
    scopes add to the outer one; a file already in scope is not loaded twice)."""
    loaded = active()
    seen = {s.origin for s in loaded.sources}
    for path in paths:
        if str(Path(path).expanduser().resolve()) in seen:
            continue
        loaded = plugins.join(loaded, plugins.load_file(path), *_builtin_names())
        seen = {s.origin for s in loaded.sources}
    token = _SCOPE.set(loaded)
    try:
        yield loaded
    finally:
        _SCOPE.reset(token)


def plugin_sources() -> list[dict]:
    """Each plug-in in scope: path (or entry point), sha256 of the file, the ids it adds."""
    return [s.to_dict() for s in active().sources]


def plugin_origin(kind: str, rid: str) -> str | None:
    """The file (or entry point) a plug-in ``kind`` ("optimizer" / "problem") came from;
    None for a built-in."""
    for source in active().sources:
        if rid in (source.optimizers if kind == "optimizer" else source.problems):
            return source.origin
    return None


def optimizer_table() -> dict[str, OptimizerEntry]:
    return {**entries(), **active().optimizers}


def problem_table() -> dict:
    return {**problems.PROBLEMS, **active().problems}


def optimizer_ids() -> list[str]:
    return list(optimizer_table())


def problem_ids() -> list[str]:
    return list(problem_table())


def optimizer_entry(name: str) -> OptimizerEntry:
    if name in AMBIGUOUS:
        raise UsageError(AMBIGUOUS[name])
    table = optimizer_table()
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


def problem_entry(name: str):
    """The record of a problem id or alias."""
    table = problem_table()
    aliases = {a: e.id for e in table.values() for a in e.aliases}
    pid = name if name in table else aliases.get(name)
    if pid is None:
        raise unknown("problem", name, list(table) + list(aliases))
    return table[pid]


def get_problem(name: str, options: dict[str, object] | None = None):
    entry = problem_entry(name)
    options = dict(options or {})
    for key in options:
        if key not in entry.defaults:
            have = ", ".join(entry.defaults) or "none"
            raise UsageError(f"problem {entry.id} has no option {key!r} (options: {have})")
    try:
        return entry.make(**options)
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None
