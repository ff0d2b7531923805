"""What ``run`` and ``trajectory`` do around the computation so a long run can be trusted:
an estimate before the work (and ``--yes`` above a threshold), the output folder checked
and locked before computing, results kept per cell (``--resume``, ``--shard``), and Ctrl-C
answered with exit 130 and one line saying what was kept."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

import typer

from optlab.cli._console import err, with_progress
from optlab.errors import UsageError

CSV_BYTES_PER_VALUE = 14  # a number in trace.csv, with its separator
FIGURE_BYTES = 2_000_000  # room for the figures and a GIF
ASK_ABOVE_SECONDS = 600.0  # ask for --yes when a run is expected to take longer
ASK_ABOVE_BYTES = 2e9  # ... or to write more
CALIBRATE_ABOVE = 2e9  # coordinate-steps: below this no calibration (it takes a second)
# peak memory of `optlab run` ~ base + per trace row + per run (the tables are built in
# memory, then written): fitted to 0.53, 1.19 and 2.48 GB measured at (runs, trace rows) =
# (1e5, 2e5), (1e5, 1.1e6), (1e6, 2e6) on fun5 (dimension 100)
MEMORY_BASE, MEMORY_PER_ROW, MEMORY_PER_RUN = 320e6, 730.0, 710.0
ASK_ABOVE_MEMORY = 0.8  # ... or to need more than this share of the available memory
CALIBRATION_STEPS = 2000


def cells_folder(out: Path) -> Path:
    """Where a run into ``out`` keeps its finished cells until its outputs are written."""
    out = Path(os.path.abspath(out))
    return out.parent / f".{out.name}.cells"


def fingerprint(config) -> dict:
    """What must match for cells to be combined: the command (less where it writes), the
    versions and the cell size."""
    from optlab.cells import cell_work
    from optlab.io.outputs import git_hash, versions

    data = config.to_dict()
    for key in ("out", "overwrite", "command"):
        data.pop(key, None)
    data = {"config": data, "versions": versions(), "git": git_hash(), "cell_work": cell_work()}
    return json.loads(json.dumps(data))  # as it reads back from the store


def estimate(config, info: dict) -> dict:
    """Work, output size and (for large runs, from a short calibration) time."""
    work = info["runs"] * info["steps"] * max(1, info["dim"])
    size = info["trace_rows"] * info["columns"] * CSV_BYTES_PER_VALUE * 2 + FIGURE_BYTES
    seconds = calibrate(config, info, work) if work > CALIBRATE_ABOVE else None
    memory = MEMORY_BASE + MEMORY_PER_ROW * info["trace_rows"] + MEMORY_PER_RUN * info["runs"]
    return {"work": work, "bytes": size, "seconds": seconds, "memory": memory}


def available_memory() -> float | None:
    """Bytes of memory available to a new process (Linux MemAvailable; None if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def calibrate(config, info: dict, work: float) -> float | None:
    """Seconds for the whole run, from one grid point of the first optimizer for a few
    steps at the run's seed count (compile time left out)."""
    from optlab import api

    small = dataclasses.replace(
        config,
        optimizers=config.optimizers[:1],
        hyper=tuple((k, tuple(v[:1])) for k, v in config.hyper),
        steps=min(config.steps, CALIBRATION_STEPS),
        log_every=None,
        out=None,
    )
    result = api.run(small)
    seconds = result.manifest["wall_s"] - result.manifest["compile_s"]
    done = config.seeds * small.steps * max(1, info["dim"])
    return max(seconds, 1e-3) / done * work if done else None


def describe(info: dict, est: dict) -> str:
    from optlab.io.outputs import _size

    text = (
        f"{info['runs']:_} runs x {info['steps']:_} steps x dimension {info['dim']} "
        f"({est['work']:.3g} coordinate-steps), {info['trace_rows']:_} trace rows "
        f"(about {_size(est['bytes'])}), about {_size(est['memory'])} of memory"
    )
    if est["seconds"] is not None:
        text += f", about {_duration(est['seconds'])}"
    return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def confirm(info: dict, est: dict, yes: bool, quiet: bool) -> None:
    """Print the estimate; above the threshold ask (on a terminal) or require ``--yes``."""
    text = describe(info, est)
    free = available_memory()
    large = (
        est["bytes"] > ASK_ABOVE_BYTES
        or (est["seconds"] or 0) > ASK_ABOVE_SECONDS
        or (free is not None and est["memory"] > ASK_ABOVE_MEMORY * free)
    )
    if not large:
        if not quiet and err.is_terminal:
            err.print(f"estimate: {text}", highlight=False, markup=False, soft_wrap=True)
        return
    if yes:
        err.print(f"estimate: {text}", highlight=False, markup=False, soft_wrap=True)
        return
    if not sys.stdin.isatty():
        raise UsageError(f"a large run: {text}; pass --yes to start it")
    err.print(f"estimate: {text}", highlight=False, markup=False, soft_wrap=True)
    if not typer.confirm("start it?", default=False, err=True):
        raise UsageError("not started")


def execute(config, compute, *, out: Path, resume: bool, progress: bool, note=None):
    """``compute(store, progress=...)`` with ``out`` checked and locked, cells kept in
    :func:`cells_folder`; returns (result, store). Ctrl-C: exit 130 and one line."""
    from optlab.cells import CellStore
    from optlab.io import outputs

    note = note or (lambda text: err.print(text, highlight=False, markup=False, soft_wrap=True))
    made = _missing_parents(out)
    lock = outputs.FolderLock(out).acquire()
    store = None
    try:
        for path in outputs.clean_leftovers(out):
            note(f"note: removed {path}, left by an interrupted run")
        store = CellStore(cells_folder(out), fingerprint(config))
        had = store.folder.exists()
        kept = store.open(resume)
        if had and not resume:
            note(f"note: removed the cells of an earlier interrupted run in {store.folder}")
        elif kept:
            note(f"resuming: {kept} cells already done in {store.folder}")
        try:
            result = with_progress(lambda **kw: compute(store, **kw), "running", progress)
        except KeyboardInterrupt:
            _interrupted(store, out)
        return result, store, lock
    except BaseException:
        if store is not None and not store.names():  # a failure before any cell: no trace
            shutil.rmtree(store.folder, ignore_errors=True)
        lock.release()
        for folder in made:  # folders made for the lock, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _missing_parents(out: Path) -> list[Path]:
    """The folders above ``out`` that do not exist yet, deepest first."""
    missing, folder = [], Path(os.path.abspath(out)).parent
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def interrupted_outside(config) -> None:
    """Ctrl-C before the computation started or while the outputs were written."""
    from optlab.cells import CellStore

    if config.out and cells_folder(Path(config.out)).is_dir():
        store = CellStore(cells_folder(Path(config.out)), {})
        if store.names():
            _interrupted(store, Path(config.out))
    err.print("interrupted: nothing written", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(130)


def _interrupted(store, out: Path) -> None:
    n = len(store.names())
    if n:
        err.print(
            f"interrupted: {n} finished cells kept in {store.folder}; nothing written to "
            f"{out}; run the same command with --resume to finish",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    else:
        shutil.rmtree(store.folder, ignore_errors=True)
        err.print(
            f"interrupted: nothing written to {out}", highlight=False, markup=False, soft_wrap=True
        )
    raise typer.Exit(130)
