"""Named sets of problems for ``optlab tune`` and ``optlab profile``.

A suite is read from the problem registry when it is asked for, so problems that plug-ins
register with a matching tag join the tag-based suites. Besides the names below, a target
may be one problem (``fun5``, ``'quadratic[gamma=10]'``), a comma list of problems
(``fun1,fun5,rosenbrock``) or a text file naming problems (one or a comma list per line,
``#`` starts a comment).

Pure Python on top of the registry: no JAX arrays are made here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from optlab import labels, registry
from optlab.errors import UsageError

ANDREI_IDS = tuple(f"fun{i}" for i in range(1, 11))


@dataclass(frozen=True)
class Suite:
    name: str
    summary: str
    problems: tuple[str, ...]


def _tagged(tag: str) -> tuple[str, ...]:
    return tuple(pid for pid in registry.problem_ids() if tag in registry.problem_entry(pid).tags)


def _definitions() -> dict[str, tuple[str, Callable[[], tuple[str, ...]]]]:
    return {
        "andrei": (
            "Andrei's fun1..fun10 at n = 100, as in Zhang, Niwa, Kleijn (arXiv:2112.06125) Fig. 4",
            lambda: ANDREI_IDS,
        ),
        "2d": ("every two-dimensional problem (tag 2d)", lambda: _tagged("2d")),
        "counterexamples": (
            "problems built to make Adam-type methods fail (tag counterexample)",
            lambda: _tagged("counterexample"),
        ),
        "stochastic": (
            "problems with sampled gradients (tag stochastic)",
            lambda: _tagged("stochastic"),
        ),
    }


def suite_names() -> list[str]:
    return list(_definitions())


def get_suite(name: str) -> Suite:
    defs = _definitions()
    if name not in defs:
        raise UsageError(f"unknown suite {name!r} (suites: {', '.join(defs)})")
    summary, members = defs[name]
    return Suite(name, summary, tuple(members()))


def list_suites() -> list[Suite]:
    return [get_suite(name) for name in suite_names()]


def resolve_target(text: str) -> tuple[str, tuple[str, ...]]:
    """``(name, problem specs)`` for a suite name, a comma list or one problem spec.

    Every problem named is checked against the registry here (a bad name is a UsageError
    before any work)."""
    text = text.strip()
    if text in _definitions():
        suite = get_suite(text)
        return suite.name, suite.problems
    title = None
    if Path(text).is_file():
        title, text = Path(text).stem, _read_list(Path(text))
    specs = tuple(s.strip() for s in labels._split_top(text) if s.strip())
    if not specs:
        raise UsageError(f"cannot read {text!r} as a problem, a comma list or a suite")
    for spec in specs:
        name, _ = labels.parse_spec(spec)
        registry.problem_entry(name)  # raises a UsageError with suggestions
    if len(set(specs)) != len(specs):
        raise UsageError(f"a problem is named twice in {text!r}")
    title = title or (specs[0] if len(specs) == 1 else "list")
    return title, specs


def _read_list(path: Path) -> str:
    """A file of problems as one comma list (comments and blank lines dropped)."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read the problem list {path}: {e}") from None
    return ",".join(
        line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()
    )
