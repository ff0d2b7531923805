"""Write a run's tables and figures; refuse to overwrite earlier results silently."""

from __future__ import annotations

import json
import os
import shutil
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


class CompileClock:
    """Seconds JAX spent compiling while the clock is active (``with CompileClock() as c``).

    Counts the three phases of each compilation (tracing to a jaxpr, lowering to MLIR, the
    backend compile) once each; a persistent-cache hit contributes only the short time it
    really took, never the compile time the cache saved (JAX reports that as
    ``compile_time_saved_sec``, which is not time spent), so ``seconds`` never exceeds the
    wall time of the block."""

    PHASES = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, event: str, duration: float, **kwargs) -> None:
        if event in self.PHASES:
            self.seconds += duration

    def __enter__(self) -> CompileClock:
        import jax

        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc) -> None:
        import jax

        jax.monitoring.unregister_event_duration_listener(self)
