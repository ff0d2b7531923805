"""Cells: the pieces a run is computed, cached, resumed and sharded in.

A cell is one optimizer of the command x one block of its grid points (within one
integer-exponent group, so one compiled program serves all its cells) x every seed. The
cells of a command depend only on the command (never on ``--shard`` or on what is cached),
and every cell is computed the same way (its block padded to the same width), so a run
computed at once, resumed after an interrupt, or split into shards and merged gives the
same numbers, byte for byte.

:class:`CellStore` keeps each finished cell as one ``.npz`` file (written whole or not at
all) in a folder, with the command's fingerprint: cells of another command or another
optlab version are never mixed in.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optlab.errors import UsageError
from optlab.types import Trace

# coordinate-steps (points x seeds x dimension x steps) per cell; recorded in the
# fingerprint, so cells of different sizes are never combined
CELL_WORK = 5e8
MAX_CELL_CONFIGS = 100_000  # never more configurations x dimension than one runner piece


@dataclass(frozen=True)
class Cell:
    plan: int  # the optimizer's position in the command
    group: int  # its integer-exponent group
    block: int  # the block of grid points within the group
    idx: tuple[int, ...]  # the grid points (indices into the optimizer's grid)
    width: int  # the padded width every cell of the command is computed at

    @property
    def name(self) -> str:
        return f"{self.plan}-{self.group}-{self.block}"


def cell_work() -> float:
    """CELL_WORK, or OPTLAB_CELL_WORK when set (smaller cells: finer resume and shards)."""
    text = os.environ.get("OPTLAB_CELL_WORK")
    if not text:
        return CELL_WORK
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"OPTLAB_CELL_WORK must be a number, got {text!r}") from None
    if not value > 0:
        raise UsageError(f"OPTLAB_CELL_WORK must be > 0, got {text!r}")
    return value


def points_per_cell(n_seeds: int, dim: int, steps: int, work: float) -> int:
    per_point = n_seeds * max(1, dim)
    by_work = int(work // (per_point * max(1, steps)))
    return max(1, min(by_work, MAX_CELL_CONFIGS // per_point))


def plan_cells(plans, n_seeds: int, dim: int, steps: int, work: float) -> list[Cell]:
    """Every cell of the command, in the order the tables list the runs."""
    width = points_per_cell(n_seeds, dim, steps, work)
    cells = []
    for k, plan in enumerate(plans):
        groups = plan.grid.integer_groups(plan.entry.integer_hypers)
        for g, (_, idx) in enumerate(groups):
            idx = [int(i) for i in idx]
            for b in range(math.ceil(len(idx) / width)):
                block = tuple(idx[b * width : (b + 1) * width])
                cells.append(Cell(k, g, b, block, min(width, len(idx))))
    return cells


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` -> (i, n) with 0 <= i < n, or a UsageError."""
    if not text:
        return None
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard must be i/n (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise UsageError(f"--shard {text}: need 0 <= i < n")
    return i, n


def shard_cells(cells: list[Cell], shard: tuple[int, int] | None) -> list[Cell]:
    """Shard i of n: every n-th cell from the i-th (deterministic, and balanced)."""
    if shard is None:
        return cells
    i, n = shard
    return cells[i::n]


# ---- storage ------------------------------------------------------------------------------
FINGERPRINT = "fingerprint.json"


class CellStore:
    """Finished cells in ``folder``: ``<name>.npz`` each, and the command's fingerprint."""

    def __init__(self, folder: Path, fingerprint: dict):
        self.folder = Path(folder)
        self.fingerprint = fingerprint

    def open(self, resume: bool) -> int:
        """Make the folder ready; returns the cells kept from before. Without ``resume``
        earlier cells are removed; with it they must come from the same command."""
        if self.folder.exists() and not resume:
            shutil.rmtree(self.folder)
        if self.folder.exists():
            if read_fingerprint(self.folder) != self.fingerprint:
                raise UsageError(
                    f"--resume: the cells in {self.folder} come from another command or "
                    "optlab version; run without --resume to start over"
                )
            return len(self.names())
        self.folder.mkdir(parents=True)
        (self.folder / FINGERPRINT).write_text(json.dumps(self.fingerprint, indent=1) + "\n")
        return 0

    def names(self) -> set[str]:
        return {p.stem for p in self.folder.glob("*.npz")} if self.folder.is_dir() else set()

    def load(self, cell: Cell) -> Trace | None:
        path = self.folder / f"{cell.name}.npz"
        return load_trace(path) if path.is_file() else None

    def save(self, cell: Cell, trace: Trace) -> None:
        """Written to a temporary file and renamed: a cell is on disk whole or not at all."""
        arrays = {f: getattr(trace, f) for f in Trace._fields if f not in ("x", "extras")}
        if trace.x is not None:
            arrays["x"] = trace.x
        arrays.update({f"extra.{k}": v for k, v in trace.extras.items()})
        fd, tmp = tempfile.mkstemp(prefix=".cell-", suffix=".npz", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})
            os.replace(tmp, self.folder / f"{cell.name}.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class MergedStore:
    """The cells of several shard folders, read only (a missing cell is an error)."""

    computes = False

    def __init__(self, folders: list[Path]):
        self.folders = [Path(f) for f in folders]

    def load(self, cell: Cell) -> Trace | None:
        for folder in self.folders:
            path = folder / f"{cell.name}.npz"
            if path.is_file():
                return load_trace(path)
        return None


def read_fingerprint(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / FINGERPRINT).read_text())
    except (OSError, ValueError):
        return None


def load_trace(path: Path) -> Trace:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    extras = {k.removeprefix("extra."): v for k, v in arrays.items() if k.startswith("extra.")}
    return Trace(
        step=arrays["step"],
        loss=arrays["loss"],
        gap=arrays["gap"],
        grad_norm=arrays["grad_norm"],
        dist=arrays["dist"],
        diverged_step=arrays["diverged_step"],
        x=arrays.get("x"),
        extras=extras,
    )


def take(trace: Trace, n: int) -> Trace:
    """The first ``n`` grid points of a trace (a padded cell's real ones)."""
    cut = lambda a: None if a is None else np.asarray(a)[:n]  # noqa: E731
    return trace._replace(
        loss=cut(trace.loss),
        gap=cut(trace.gap),
        grad_norm=cut(trace.grad_norm),
        dist=cut(trace.dist),
        diverged_step=cut(trace.diverged_step),
        x=cut(trace.x),
        extras={k: cut(v) for k, v in trace.extras.items()},
    )
