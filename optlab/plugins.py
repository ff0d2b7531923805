"""Loading optimizers and problems from outside the package.

A plug-in is a Python file (``--plugin FILE.py``) or an installed package (entry-point
groups ``optlab.optimizers`` and ``optlab.problems``) that defines records written exactly
like the built-in ones: a module-level ``ENTRY`` (one :class:`optlab.OptimizerEntry`) and/or
``ENTRIES`` (a list of ``OptimizerEntry`` and :class:`problems.ProblemEntry` records). An
entry point may name such a module, or a record or a list of records directly.

Loading only reads: it returns a :class:`Loaded` value and touches no registry. Scoping it
(which ids are visible to which call) is :func:`optlab.registry.with_plugins`' business.
Every problem is a :class:`optlab.errors.UsageError` with one line that names the file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from optlab._jax import float64
from optlab.errors import UsageError
from optlab.optimizers._entry import STATE_ROLES, OptimizerEntry
from optlab.types import Optimizer
from problems.spec import Problem, ProblemEntry

ENTRY_POINT_GROUPS = {"optimizers": "optlab.optimizers", "problems": "optlab.problems"}
ID_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # usable in labels and file names


@dataclass(frozen=True)
class Source:
    """Where plug-in records came from: a file (with its content hash) or an entry point."""

    origin: str  # the resolved file path, or "entry point NAME = VALUE (DIST)"
    sha256: str | None  # of the file's bytes; None for an entry point
    optimizers: tuple[str, ...]
    problems: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "path": self.origin,
            "sha256": self.sha256,
            "optimizers": list(self.optimizers),
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class Loaded:
    """Records from plug-ins, keyed by id, and where each came from."""

    optimizers: Mapping[str, OptimizerEntry] = field(default_factory=dict)
    problems: Mapping[str, ProblemEntry] = field(default_factory=dict)
    sources: tuple[Source, ...] = ()

    def merged(self, other: Loaded) -> Loaded:
        return Loaded(
            {**self.optimizers, **other.optimizers},
            {**self.problems, **other.problems},
            self.sources + other.sources,
        )


# ---- importing ------------------------------------------------------------------------------
def _error_line(path: Path, err: BaseException) -> int | None:
    """The line of ``path`` where importing it failed (innermost frame in that file)."""
    if isinstance(err, SyntaxError) and err.filename and Path(err.filename) == path:
        return err.lineno
    line = None
    for frame in traceback.extract_tb(err.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return line


def import_file(path: Path):
    """Execute ``path`` as a fresh module. It is in ``sys.modules`` only while it runs (so
    dataclasses and NamedTuples defined in it work): loading leaves no global trace."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    stem = re.sub(r"\W", "_", path.stem)
    name = f"optlab_plugin_{stem}_{digest[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"plugin {path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 - any failure of user code is one line
        line = _error_line(path, err)
        where = f", line {line}" if line else ""
        text = (err.msg if isinstance(err, SyntaxError) else str(err)).strip().splitlines()
        what = text[0] if text else ""
        raise UsageError(f"plugin {path}{where}: {type(err).__name__}: {what}") from None
    finally:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
    return module, digest


def records_of(module, origin: str) -> list:
    """The module's ``ENTRY`` and ``ENTRIES`` records, in order."""
    found = []
    if hasattr(module, "ENTRY"):
        found.append(module.ENTRY)
    if hasattr(module, "ENTRIES"):
        entries = module.ENTRIES
        if isinstance(entries, (OptimizerEntry, ProblemEntry)) or not isinstance(entries, Iterable):
            raise UsageError(f"plugin {origin}: ENTRIES must be a list of records")
        found.extend(entries)
    if not found:
        raise UsageError(
            f"plugin {origin}: defines no ENTRY or ENTRIES (OptimizerEntry / ProblemEntry records)"
        )
    return found


# ---- validating records ---------------------------------------------------------------------
def _check_id(kind: str, rid, origin: str) -> None:
    if not isinstance(rid, str) or not ID_PATTERN.match(rid):
        raise UsageError(
            f"plugin {origin}: {kind} id {rid!r} must be a name of letters, digits and '_'"
        )


def _parameters(fn) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}


def _numeric(value) -> bool:
    import numbers

    import numpy as np

    return isinstance(value, numbers.Real | np.ndarray) and not isinstance(value, bool)


def check_optimizer(entry: OptimizerEntry, origin: str) -> None:
    """A malformed optimizer record is refused at load time, not deep inside a run."""
    _check_id("optimizer", entry.id, origin)
    where = f"plugin {origin}: optimizer {entry.id!r}"
    for name in ("summary", "paper", "eps", "decay", "bibtex", "fixed_point_note"):
        if not isinstance(getattr(entry, name), str):
            raise UsageError(f"{where}: {name} must be a string")
    if not callable(entry.make):
        raise UsageError(f"{where}: make must be a function returning an optlab.Optimizer")
    try:
        with float64():  # the lab computes in float64 (a scoped setting)
            opt = entry.make()
    except Exception as err:  # noqa: BLE001
        raise UsageError(f"{where}: make() failed: {type(err).__name__}: {err}") from None
    if not isinstance(opt, Optimizer):
        raise UsageError(f"{where}: make() returned {type(opt).__name__}, not optlab.Optimizer")
    if not (callable(opt.init) and callable(opt.step)):
        raise UsageError(f"{where}: the Optimizer's init and step must be functions")
    fields = getattr(opt.hyper, "_fields", None)
    if not isinstance(opt.hyper, tuple) or fields is None:
        raise UsageError(f"{where}: Optimizer.hyper must be a NamedTuple of numbers")
    bad = [k for k, v in opt.hyper._asdict().items() if not _numeric(v)]
    if bad:
        raise UsageError(f"{where}: hyperparameter defaults must be numbers ({', '.join(bad)})")
    options = _parameters(entry.make)
    for key in entry.static_choices:
        if key not in options:
            raise UsageError(f"{where}: static_choices names {key!r}, not an option of make()")
    for key, role in entry.state_roles.items():
        if role not in STATE_ROLES:
            raise UsageError(
                f"{where}: state role {role!r} of {key!r} is not one of {', '.join(STATE_ROLES)}"
            )
    for key in list(entry.integer_hypers) + list(entry.bounds):
        if key not in fields:
            raise UsageError(f"{where}: {key!r} is not a hyperparameter (it has {fields})")
    for name in ("diagnostics", "linearisation"):
        hook = getattr(entry, name)
        if hook is not None and not callable(hook):
            raise UsageError(f"{where}: {name} must be a function or None")


def check_problem(entry: ProblemEntry, origin: str) -> None:
    _check_id("problem", entry.id, origin)
    where = f"plugin {origin}: problem {entry.id!r}"
    if not callable(entry.make):
        raise UsageError(f"{where}: make must be a function returning a problems.Problem")
    options = _parameters(entry.make)
    for key in entry.defaults:
        if key not in options:
            raise UsageError(f"{where}: default {key!r} is not an option of make()")
    for alias in entry.aliases:
        _check_id("problem alias", alias, origin)
    try:
        with float64():
            problem = entry.make()
    except Exception as err:  # noqa: BLE001
        raise UsageError(f"{where}: make() failed: {type(err).__name__}: {err}") from None
    if not isinstance(problem, Problem):
        raise UsageError(f"{where}: make() returned {type(problem).__name__}, not Problem")


def _split(records: list, origin: str) -> Loaded:
    optimizers: dict[str, OptimizerEntry] = {}
    found: dict[str, ProblemEntry] = {}
    for record in records:
        if isinstance(record, OptimizerEntry):
            check_optimizer(record, origin)
            table = optimizers
        elif isinstance(record, ProblemEntry):
            check_problem(record, origin)
            table = found
        else:
            raise UsageError(
                f"plugin {origin}: {type(record).__name__} is not an OptimizerEntry "
                "or ProblemEntry record"
            )
        if record.id in table:
            raise UsageError(f"plugin {origin}: the id {record.id!r} is defined twice")
        table[record.id] = record
    return Loaded(optimizers, found)


# ---- files and entry points -----------------------------------------------------------------
def load_file(path: str | Path) -> Loaded:
    """The records of one plug-in file (not yet checked for collisions)."""
    resolved = Path(path).expanduser().resolve()
    if resolved.suffix != ".py":
        raise UsageError(f"plugin {path}: expected a Python file FILE.py")
    if not resolved.is_file():
        raise UsageError(f"plugin {path}: no such file")
    module, digest = import_file(resolved)
    loaded = _split(records_of(module, str(resolved)), str(resolved))
    source = Source(str(resolved), digest, tuple(loaded.optimizers), tuple(loaded.problems))
    return Loaded(loaded.optimizers, loaded.problems, (source,))


def load_entry_points() -> list[Loaded]:
    """Records registered by installed packages (entry-point groups ``optlab.optimizers``
    and ``optlab.problems``), one :class:`Loaded` per entry point; read afresh every call."""
    from importlib.metadata import entry_points

    found = []
    for group in ENTRY_POINT_GROUPS.values():
        for point in entry_points(group=group):
            dist = getattr(getattr(point, "dist", None), "name", None)
            origin = f"entry point {point.name} = {point.value}" + (f" ({dist})" if dist else "")
            try:
                target = point.load()
            except Exception as err:  # noqa: BLE001
                raise UsageError(f"plugin {origin}: {type(err).__name__}: {err}") from None
            if inspect.ismodule(target):
                records = records_of(target, origin)
            elif isinstance(target, (OptimizerEntry, ProblemEntry)):
                records = [target]
            elif isinstance(target, Iterable):
                records = list(target)
            else:
                raise UsageError(f"plugin {origin}: names neither a module nor records")
            loaded = _split(records, origin)
            source = Source(origin, None, tuple(loaded.optimizers), tuple(loaded.problems))
            found.append(Loaded(loaded.optimizers, loaded.problems, (source,)))
    return found


def _problem_names(problems: Mapping[str, ProblemEntry]) -> dict[str, str]:
    """Every id and alias -> the id it names."""
    return {name: pid for pid, e in problems.items() for name in (pid, *e.aliases)}


def join(base: Loaded, new: Loaded, builtin_optimizers, builtin_problems) -> Loaded:
    """``base`` plus one more source, refusing an id (or problem alias) that a built-in or
    an earlier plug-in already holds."""
    origin = new.sources[0].origin if new.sources else "?"
    owners = {}
    for s in base.sources:
        owners.update({("optimizer", i): s.origin for i in s.optimizers})
        owners.update({("problem", i): s.origin for i in s.problems})
    for rid in new.optimizers:
        if rid in builtin_optimizers:
            raise UsageError(f"plugin {origin}: optimizer id {rid!r} is taken by a built-in")
        if rid in base.optimizers:
            raise UsageError(
                f"plugin {origin}: optimizer id {rid!r} is already defined by "
                f"{owners[('optimizer', rid)]}"
            )
    have = _problem_names(base.problems)
    for name in _problem_names(new.problems):
        if name in builtin_problems:
            raise UsageError(f"plugin {origin}: problem name {name!r} is taken by a built-in")
        if name in have:
            raise UsageError(
                f"plugin {origin}: problem name {name!r} is already defined by "
                f"{owners[('problem', have[name])]}"
            )
    return base.merged(new)
