"""What every command shares to save its results (public: ``api`` and ``api_stability``
both use these, nothing here is private to one command).

- output folders: :func:`default_out_dir`, :func:`check_out_dir` (creates nothing) and
  :func:`write_outputs` (all files or none);
- the manifest's common part: :func:`environment` (versions, backend, devices, float64,
  compilation cache, git hash) and :class:`CompileClock` (seconds spent compiling).

Library calls compute and return; only a result's ``save()`` (which the CLI calls) writes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from optlab.errors import UsageError


def default_out_dir(command: str, problem: str, root: str | Path = "runs") -> Path:
    """``runs/<command>-<problem>-<timestamp>``, made unique with a suffix if taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in problem)
    base = Path(root) / f"{command}-{safe}-{stamp}"
    path, k = base, 2
    while path.exists():
        path = base.with_name(f"{base.name}-{k}")
        k += 1
    return path


def check_out_dir(path: Path, overwrite: bool) -> Path:
    """A usable output folder, or a UsageError; creates nothing."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise UsageError(
            f"--out {path} is not empty; pass --overwrite to replace its files, "
            "or choose another folder"
        )
    return path


class CompileClock:
    """Seconds JAX spent compiling while the ``with`` block ran, each instant counted once.

    JAX reports tracing, lowering, XLA compilation and cache retrieval as separate duration
    events, some nested in others or concurrent, and a cache hit also reports the compile
    time it saved; summing the events counted cache hits and overlaps (compile 5.0 s in a
    4.4 s run). The clock keeps each event's interval and measures their union, so
    ``seconds`` never exceeds the block's wall time."""

    def __init__(self):
        self._intervals: list[tuple[float, float]] = []
        self._start = self._stop = None

    @staticmethod
    def counts(event: str) -> bool:
        """Compile work: JAX's compile events and cache reads, never the 'time saved'."""
        if "compile_time_saved" in event:
            return False
        return "/compile/" in event or "cache_retrieval" in event

    def __call__(self, event: str, duration: float, **kwargs) -> None:
        if self.counts(event):
            end = time.perf_counter()
            self._intervals.append((end - duration, end))

    def __enter__(self):
        import jax

        self._start, self._stop = time.perf_counter(), None
        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc):
        import jax

        self._stop = time.perf_counter()
        jax.monitoring.unregister_event_duration_listener(self)
        return False

    @property
    def seconds(self) -> float:
        """The length of the union of the compile intervals inside the block."""
        lo = self._start if self._start is not None else float("-inf")
        hi = self._stop if self._stop is not None else time.perf_counter()
        total, reach = 0.0, lo
        for a, b in sorted(self._intervals):
            a, b = max(a, reach), min(b, hi)
            if b > a:
                total += b - a
                reach = b
        return total


def git_hash() -> str | None:
    """The commit optlab runs from, when it runs from a git checkout."""
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


PACKAGES = ("optlab", "jax", "jaxlib", "numpy", "optax", "pandas", "matplotlib", "typer", "rich")


def versions() -> dict:
    """Python's and each relevant package's version (None: not installed)."""
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in PACKAGES:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def environment() -> dict:
    """The manifest entries every command records about where it ran (call it inside the
    computation's float64 scope, so ``x64`` says what the computation used)."""
    import jax

    return {
        "versions": versions(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "x64": bool(jax.config.jax_enable_x64),
        "compilation_cache": jax.config.jax_compilation_cache_dir,
        "git": git_hash(),
    }


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def write_table(df, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def write_json(data: dict, path: Path) -> Path:
    path.write_text(json.dumps(data, indent=2, default=_json_default, sort_keys=False) + "\n")
    return path


def write_figure(fig, path: Path, dpi: int = 120) -> Path:
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def write_animation(frames, path: Path, fps: int = 15, dpi: int = 100) -> Path:
    """A GIF of a ``plots.trajectories.Frames``: the static part (the landscape contour,
    the costly part) is rendered once and each frame only redraws the moving artists."""
    from PIL import Image

    fig = frames.fig
    fig.set_dpi(dpi)
    for artist in frames.artists:
        artist.set_animated(True)  # left out of the full draw below
    canvas = fig.canvas
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)

    def render(k: int):
        canvas.restore_region(background)
        frames.update(k)
        for artist in frames.artists:
            fig.draw_artist(artist)
        size = canvas.get_width_height()
        return Image.frombuffer("RGBA", size, canvas.buffer_rgba()).convert("RGB")

    # one palette for every frame, from the last one (all paths drawn): no colour flicker
    palette = render(frames.n - 1).quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    images = [
        render(k).quantize(palette=palette, dither=Image.Dither.NONE) for k in range(frames.n)
    ]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0
    )
    return path


def write_outputs(
    out_dir: Path, tables: dict, figures: dict, manifest: dict, animations: dict | None = None
) -> list[Path]:
    """Write ``{name: DataFrame}`` as CSV, ``{name: Figure}`` as PNG, ``{name: Animation}``
    as GIF, and manifest.json. Returns every path written, in that order.

    Everything is written to a staging folder beside ``out_dir`` first and moved in only
    when all of it succeeded: a failure (a figure that cannot be drawn, a full disk) leaves
    ``out_dir`` as it was, never half-replaced."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        staged = [write_table(df, stage / f"{name}.csv") for name, df in tables.items()]
        staged += [write_figure(fig, stage / f"{name}.png") for name, fig in figures.items()]
        staged += [
            write_animation(a, stage / f"{name}.gif") for name, a in (animations or {}).items()
        ]
        staged.append(write_json(manifest, stage / "manifest.json"))
        out_dir.mkdir(exist_ok=True)
        paths = []
        for path in staged:
            os.replace(path, out_dir / path.name)
            paths.append(out_dir / path.name)
        return paths
    finally:
        shutil.rmtree(stage, ignore_errors=True)
