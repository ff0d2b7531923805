"""Declared search spaces for ``optlab tune``: ranges, and the configurations drawn from them.

A dimension is ``NAME=LO:HI[:log|lin]`` (for every optimizer) or ``OPT:NAME=LO:HI[:log|lin]``
(for one). The learning rate is always searched, over ``DEFAULT_LR`` unless declared, or
unless an optimizer fixes it in its brackets (``'adam[learning_rate=0.01]'``).

Every optimizer gets exactly ``budget`` configurations, drawn by one sampler with one seed:
a scrambled Sobol sequence (scipy.stats.qmc) or a product grid. Drawn values are rounded to
``DIGITS`` significant digits (then kept inside the range) so that labels stay short and read
back to exactly the value that ran.

Pure Python and NumPy/SciPy: the CLI checks a space before JAX is imported.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from optlab.errors import UsageError
from optlab.labels import parse_number

DEFAULT_LR = (1e-5, 1.0)
DIGITS = 4
SAMPLERS = ("sobol", "grid")
SCALES = ("log", "lin")
SHORT_NAMES = {"lr": "learning_rate", "eta": "learning_rate"}


@dataclass(frozen=True)
class Dimension:
    name: str
    lo: float
    hi: float
    scale: str  # "log": uniform in log(value); "lin": uniform in value

    def text(self) -> str:
        return f"{self.name} {self.scale}-uniform in [{self.lo:g}, {self.hi:g}]"

    def to_dict(self) -> dict:
        return asdict(self)


def parse_dimension(item: str) -> tuple[str | None, Dimension]:
    """``'adam:b1=0.8:0.99'`` -> ``('adam', Dimension('b1', 0.8, 0.99, 'lin'))``."""
    if "=" not in item:
        raise UsageError(f"--space {item!r}: expected [OPT:]NAME=LO:HI[:log|lin]")
    left, right = (s.strip() for s in item.split("=", 1))
    owner, name = left.split(":", 1) if ":" in left else (None, left)
    name = SHORT_NAMES.get(name.strip(), name.strip())
    parts = [p.strip() for p in right.split(":")]
    if len(parts) not in (2, 3) or not name:
        raise UsageError(f"--space {item!r}: expected [OPT:]NAME=LO:HI[:log|lin]")
    lo = parse_number(parts[0], f"--space {name}")
    hi = parse_number(parts[1], f"--space {name}")
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise UsageError(f"--space {item!r}: need finite LO < HI")
    scale = parts[2] if len(parts) == 3 else ("log" if lo > 0 and hi >= 10 * lo else "lin")
    if scale not in SCALES:
        raise UsageError(f"--space {item!r}: the scale must be log or lin, got {scale!r}")
    if scale == "log" and lo <= 0:
        raise UsageError(f"--space {item!r}: a log scale needs LO > 0")
    return (owner.strip() if owner else None), Dimension(name, lo, hi, scale)


def parse_space(items) -> tuple[tuple[str | None, Dimension], ...]:
    parsed = tuple(parse_dimension(item) for item in items or ())
    seen = set()
    for owner, dim in parsed:
        if (owner, dim.name) in seen:
            raise UsageError(f"--space: {dim.name} is declared twice for {owner or 'all'}")
        seen.add((owner, dim.name))
    return parsed


def dimensions_for(optimizer_id: str, space, fixed: set[str]) -> list[Dimension]:
    """The dimensions searched for one optimizer: its own declarations win over those for
    every optimizer; the learning rate is searched over DEFAULT_LR unless declared or fixed."""
    dims: dict[str, Dimension] = {}
    for owner, dim in space:
        if owner is None and dim.name not in fixed:
            dims[dim.name] = dim
    for owner, dim in space:
        if owner == optimizer_id:
            if dim.name in fixed:
                raise UsageError(
                    f"{optimizer_id}: {dim.name} is fixed in its brackets and also searched"
                )
            dims[dim.name] = dim
    if "learning_rate" not in dims and "learning_rate" not in fixed:
        dims = {"learning_rate": Dimension("learning_rate", *DEFAULT_LR, "log"), **dims}
    order = ["learning_rate"] + [n for n in dims if n != "learning_rate"]
    return [dims[n] for n in order if n in dims]


def _round(values: np.ndarray, dim: Dimension) -> np.ndarray:
    rounded = np.asarray([float(f"{v:.{DIGITS}g}") for v in values])
    return np.clip(rounded, dim.lo, dim.hi)


def _from_unit(u: np.ndarray, dim: Dimension) -> np.ndarray:
    if dim.scale == "log":
        return np.exp(np.log(dim.lo) + u * (np.log(dim.hi) - np.log(dim.lo)))
    return dim.lo + u * (dim.hi - dim.lo)


def draw(dims: list[Dimension], budget: int, sampler: str, seed: int) -> np.ndarray:
    """``(budget, len(dims))`` configurations, rows in draw order."""
    if not dims:
        raise UsageError("nothing to search: every hyperparameter is fixed")
    if sampler == "sobol":
        from scipy.stats import qmc

        with warnings.catch_warnings():  # a budget that is not a power of 2 is allowed
            warnings.simplefilter("ignore", UserWarning)
            unit = qmc.Sobol(d=len(dims), scramble=True, rng=seed).random(budget)
        return np.column_stack([_round(_from_unit(unit[:, k], d), d) for k, d in enumerate(dims)])
    if sampler == "grid":
        k = round(budget ** (1 / len(dims)))
        if k ** len(dims) != budget:
            raise UsageError(
                f"a grid over {len(dims)} hyperparameters needs a budget of the form k^"
                f"{len(dims)}, got {budget}; use --sampler sobol or another budget"
            )
        axes = [_round(_from_unit(np.linspace(0, 1, k), d), d) for d in dims]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.column_stack([m.ravel() for m in mesh])
    raise UsageError(f"--sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
