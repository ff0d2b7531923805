"""Problem records and their registry (docs/problems.md).

``PROBLEMS`` maps an id to a :class:`ProblemEntry`; ``ALIASES`` maps alternative names
(Andrei's: ``tridia`` -> ``fun5``) to ids; ``get_problem(name, **options)`` builds a record.
These are the built-in problems; plug-in problems (``--plugin FILE.py``, entry-point group
``optlab.problems``) join them in :mod:`optlab.registry`, scoped to the call that loads them.
A plug-in writes its problems with the public ``Problem`` and ``ProblemEntry`` from here.
"""

from __future__ import annotations

from problems import andrei, classic2d, logistic, mlp, online, quadratic, stochastic
from problems.spec import Problem, ProblemEntry

MODULES = (andrei, quadratic, stochastic, online, classic2d, mlp, logistic)
PROBLEMS: dict[str, ProblemEntry] = {e.id: e for m in MODULES for e in m.ENTRIES}
ALIASES: dict[str, str] = {a: e.id for e in PROBLEMS.values() for a in e.aliases}


def resolve(name: str) -> str | None:
    """The problem id for a name or alias, or None."""
    return name if name in PROBLEMS else ALIASES.get(name)


def get_problem(name: str, **options) -> Problem:
    pid = resolve(name)
    if pid is None:
        raise KeyError(name)
    return PROBLEMS[pid].make(**options)


__all__ = ["ALIASES", "PROBLEMS", "Problem", "ProblemEntry", "get_problem", "resolve"]
