"""What every command shares to save its results (public: ``api`` and ``api_stability``
both use these, nothing here is private to one command).

- output folders: :func:`default_out_dir`, :func:`check_out_dir` (creates nothing) and
  :func:`write_outputs` (all files or none);
- the manifest's JAX-free part: :func:`versions` and :func:`git_hash` (the backend, devices
  and compile time come from :mod:`optlab._jax`, which owns JAX).

Library calls compute and return; only a result's ``save()`` (which the CLI calls) writes.
"""

from __future__ import annotations

import contextlib
import errno
import glob
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


def check_out_dir(path: Path, overwrite: bool, needed_bytes: int = 0, probe: bool = True) -> Path:
    """A usable output folder, or a UsageError naming it; creates nothing.

    Checked before any work: a non-empty folder without ``overwrite``, a path under a
    file, a name the file system refuses, a parent that cannot be written, and (with
    ``needed_bytes``) a disk without room for the estimated outputs. ``probe``: try creating
    (and remove) a file in the parent, the only sure test; else trust permission bits."""
    _check_names(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise UsageError(
            f"--out {path} is not empty; pass --overwrite to replace its files, "
            "or choose another folder"
        )
    base = _existing_ancestor(path)
    if not base.is_dir():
        raise UsageError(f"--out {path} cannot be created: {base} is not a folder")
    if not _writable(base, probe):
        raise UsageError(f"--out {path} cannot be created: {base} is not writable")
    free = shutil.disk_usage(base).free
    if needed_bytes and free < needed_bytes:
        raise UsageError(
            f"--out {path}: about {_size(needed_bytes)} of outputs expected but only "
            f"{_size(free)} free there"
        )
    return path


def _check_names(path: Path) -> None:
    """Every new component (and the staging names made from the last) fits the file system."""
    base = _existing_ancestor(path)
    try:
        limit = os.pathconf(base if base.is_dir() else base.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if path.name in ("", ".", ".."):
        raise UsageError(f"--out {path} does not name a folder")
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            raise UsageError(f"--out {path}: the name {part[:20]}... is longer than {limit} bytes")
    if len(os.fsencode(path.name)) + len(".partial-12345678") + 1 > limit:
        raise UsageError(f"--out {path}: the folder name is too long (at most about {limit - 20})")


def _existing_ancestor(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _writable(folder: Path, probe: bool = True) -> bool:
    """Whether a file can be created in ``folder``: tried, not guessed from permission bits
    (root ignores them; a read-only mount does not)."""
    if not probe:
        return os.access(folder, os.W_OK | os.X_OK)
    try:
        fd, name = tempfile.mkstemp(prefix=".optlab-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.0f} PB"


# ---- a lock for the whole run, and what killed runs left behind --------------------------
class FolderLock:
    """An exclusive lock on an output folder (a hidden file beside it), held for the whole
    run: a second run into the same folder is refused at once. The kernel releases it when
    the process dies, however it dies; the file is removed by whoever holds it last."""

    def __init__(self, out_dir: Path):
        out_dir = Path(os.path.abspath(out_dir))
        self.out_dir = out_dir
        self.path = out_dir.parent / f".{out_dir.name}.lock"
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise UsageError(
                    f"--out {self.out_dir} is in use by another optlab run; wait for it or "
                    "choose another folder"
                ) from None
            try:  # the holder before us may have removed the file: lock the one that exists
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


@contextlib.contextmanager
def held(out_dir: Path):
    """The folder's lock for the length of the block (a second run into it is exit 2 at
    once), with what killed runs left beside it removed; folders made only to hold the lock
    are removed again when they are still empty."""
    out_dir = Path(os.path.abspath(out_dir))
    made = [p for p in (out_dir.parent, *out_dir.parent.parents) if not p.exists()]
    lock = FolderLock(out_dir).acquire()
    try:
        clean_leftovers(out_dir)
        yield lock
    finally:
        lock.release()
        for folder in made:  # deepest first; a folder holding the results is not empty
            with contextlib.suppress(OSError):
                folder.rmdir()


def leftovers(out_dir: Path) -> list[Path]:
    """Staging folders that killed runs into ``out_dir`` left beside it."""
    out_dir = Path(os.path.abspath(out_dir))
    if not out_dir.parent.is_dir():
        return []
    return sorted(out_dir.parent.glob(f".{glob.escape(out_dir.name)}.partial-*"))


def clean_leftovers(out_dir: Path) -> list[Path]:
    """Remove what killed runs left (call it holding the folder's lock); returns them."""
    found = leftovers(out_dir)
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


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


class WriteError(RuntimeError):
    """Writing the outputs failed (a full disk); the folder holds what it held before."""


def write_outputs(
    out_dir: Path, tables: dict, figures: dict, manifest: dict, animations: dict | None = None
) -> list[Path]:
    """Write ``{name: DataFrame}`` as CSV, ``{name: Figure}`` as PNG, ``{name: Animation}``
    as GIF, and manifest.json. Returns every path written, in that order.

    Everything is written to a staging folder beside ``out_dir`` first and moved in only
    when all of it succeeded: a failure (a figure that cannot be drawn, a full disk) leaves
    ``out_dir`` as it was, never half-replaced. The manifest lists the files (``files``);
    files an earlier optlab run listed there and this one does not write are removed (an
    old ``trajectory.gif``), and nothing else in the folder is touched."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    names = [f"{n}.csv" for n in tables] + [f"{n}.png" for n in figures]
    names += [f"{n}.gif" for n in animations or {}] + ["manifest.json"]
    manifest = {**manifest, "files": names}
    try:
        try:
            staged = [write_table(df, stage / f"{name}.csv") for name, df in tables.items()]
            staged += [write_figure(fig, stage / f"{n}.png") for n, fig in figures.items()]
            staged += [
                write_animation(a, stage / f"{n}.gif") for n, a in (animations or {}).items()
            ]
            staged.append(write_json(manifest, stage / "manifest.json"))
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise WriteError(
                    f"the disk is full: nothing was written to {out_dir} "
                    "(the results it held before are intact)",
                ) from None
            raise
        stale = [n for n in written_before(out_dir) if n not in names]
        out_dir.mkdir(exist_ok=True)
        paths = []
        for path in staged:
            os.replace(path, out_dir / path.name)
            paths.append(out_dir / path.name)
        for name in stale:
            (out_dir / name).unlink(missing_ok=True)
        return paths
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def written_before(out_dir: Path) -> list[str]:
    """The files an earlier optlab run wrote into ``out_dir`` (its manifest's list)."""
    try:
        files = json.loads((out_dir / "manifest.json").read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [f for f in files if isinstance(f, str) and f == Path(f).name and f not in ("", ".")]
