"""Hyperparameter grids: ``{"learning_rate": [..], "p": [..]}`` -> batched Hyper + a table.

A grid is the cross product of the value lists, in the order of the optimizer's Hyper
fields. Points whose integer-exponent hyperparameters (e.g. Aida's p, q) are integers are
grouped so each group runs as its own program with the integers baked in (no traced pow).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from optlab.errors import UsageError


@dataclass(frozen=True)
class Grid:
    names: tuple[str, ...]  # Hyper fields, in order
    points: tuple[tuple[float, ...], ...]  # one full hyperparameter vector per point
    varied: tuple[str, ...]  # fields given more than one value

    def __len__(self) -> int:
        return len(self.points)

    def column(self, name: str) -> np.ndarray:
        return np.asarray([p[self.names.index(name)] for p in self.points], dtype=np.float64)

    def batch(self, hyper_type, indices=None, dtype=np.float64):
        """A Hyper of (len(indices),) arrays."""
        idx = range(len(self)) if indices is None else indices
        cols = {
            n: np.asarray([self.points[i][k] for i in idx], dtype=dtype)
            for k, n in enumerate(self.names)
        }
        return hyper_type(**cols)

    def integer_groups(self, integer_names) -> list[tuple[dict[str, int], list[int]]]:
        """[(fixed, indices)]: points sharing the same integer values of ``integer_names``
        (a non-integer value stays traced and is not in ``fixed``)."""
        groups: dict[tuple, list[int]] = {}
        for i, point in enumerate(self.points):
            key = []
            for name in integer_names:
                v = point[self.names.index(name)]
                key.append((name, int(v)) if float(v).is_integer() else (name, None))
            groups.setdefault(tuple(key), []).append(i)
        return [({n: v for n, v in key if v is not None}, idx) for key, idx in groups.items()]


def check_bound(owner: str, name: str, v: float, bound) -> None:
    if bound is None:
        return
    lo, hi, brackets = (tuple(bound) + ("[]",))[:3]
    low_ok = lo is None or (v >= lo if brackets[0] == "[" else v > lo)
    high_ok = hi is None or (v <= hi if brackets[1] == "]" else v < hi)
    if not (low_ok and high_ok):
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        raise UsageError(
            f"{owner}: {name}={v:g} is outside its domain {brackets[0]}{lo_s}, {hi_s}{brackets[1]}"
        )


def build_grid(optimizer_id: str, defaults, values: dict[str, list[float]], bounds) -> Grid:
    """Validate names and values against ``defaults`` (a Hyper) and ``bounds``."""
    names = tuple(defaults._fields)
    for name, vals in values.items():
        if name not in names:
            raise UsageError(
                f"{optimizer_id} has no hyperparameter {name!r} (it has: {', '.join(names)})"
            )
        for v in vals:
            if not np.isfinite(v):
                raise UsageError(f"{optimizer_id}: {name}={v} is not finite")
            check_bound(optimizer_id, name, v, bounds.get(name))
    lists = [list(dict.fromkeys(values.get(n, [getattr(defaults, n)]))) for n in names]
    points = tuple(tuple(float(v) for v in combo) for combo in itertools.product(*lists))
    varied = tuple(n for n, lst in zip(names, lists, strict=True) if len(lst) > 1)
    return Grid(names, points, varied)
