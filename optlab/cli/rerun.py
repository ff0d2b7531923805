"""``optlab rerun MANIFEST``: run a saved result's configuration again.

The manifest's "config" is the configuration the library received, so the same command on
the same versions writes the same CSV files, byte for byte (only the wall time, the compile
time and the output folder differ). A manifest from other versions of optlab, JAX or NumPy
is rerun with a note on stderr: the numbers may then differ in the last digits.
"""

from __future__ import annotations

import json
import shlex
import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from optlab.cli._console import err, guarded, with_progress
from optlab.cli._options import Json, Out, Overwrite
from optlab.errors import UsageError

HELP = """Run the configuration recorded in a manifest.json again (same CSV files, byte for byte).

Examples:

  optlab rerun runs/run-fun5-20250101-120000/manifest.json

  optlab rerun runs/grid/manifest.json --out runs/grid-again
"""

KINDS = ("run", "trajectory", "stability")


def read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{path}: not a readable manifest.json ({e})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise UsageError(f'{path}: no "config" entry; is it an optlab manifest.json?')
    return manifest


def manifest_kind(manifest: dict, path: Path) -> str:
    """Which command wrote it: the "kind" entry, else what its config holds (a stability
    analysis has one ``optimizer``, a trajectory a ``resolution``)."""
    kind = manifest.get("kind")
    if kind is None:
        config = manifest["config"]
        if "optimizer" in config:
            kind = "stability"
        elif "optimizers" in config:
            kind = "trajectory" if "resolution" in config else "run"
    if kind not in KINDS:
        raise UsageError(f"{path}: cannot tell which command wrote it (kind {kind!r})")
    return kind


def _version_note(manifest: dict) -> str | None:
    from optlab.io.outputs import git_hash, versions

    now = {**versions(), "git": git_hash()}
    then = {**manifest.get("versions", {}), "git": manifest.get("git")}
    changed = [k for k in now if k in then and then[k] != now[k] and k != "python"]
    if not changed:
        return None
    return "note: recorded with other versions (" + ", ".join(changed) + "); numbers may differ"


def build(kind: str, data: dict, out: str | None, overwrite: bool, command: str):
    """(the library call, its configuration) for a manifest's "config"."""
    from optlab import config as cfg

    changes = {"out": out, "overwrite": overwrite, "command": command}
    if kind == "stability":
        from optlab import api_stability

        return api_stability.stability, cfg.StabilityConfig.from_dict(data, **changes)
    from optlab import api

    if kind == "trajectory":
        return api.trajectory, cfg.TrajectoryConfig.from_dict(data, **changes)
    return api.run, cfg.RunConfig.from_dict(data, **changes)


@guarded
def rerun(
    manifest: Annotated[Path, typer.Argument(help="A manifest.json that optlab wrote.")],
    out_dir: Out = None,
    overwrite: Overwrite = False,
    json_out: Json = False,
) -> None:
    recorded = read_manifest(manifest)
    kind = manifest_kind(recorded, manifest)
    command = shlex.join(["optlab", *sys.argv[1:]])
    call, config = build(kind, recorded["config"], out_dir, overwrite, command)
    note = _version_note(recorded)
    if note and not json_out:
        err.print(note, highlight=False, soft_wrap=True, markup=False)
    result = with_progress(partial(call, config), "running", err.is_terminal and not json_out)
    result.manifest["rerun_of"] = str(manifest)
    if kind == "stability":
        _report_paths(result, json_out)
        return
    from optlab.cli.run import report

    report(result, json_out, best=kind == "run")


def _report_paths(result, json_out: bool) -> None:
    """Save (a result computed without writing) and print every path written."""
    from optlab.cli._console import out, print_json

    paths = result.save() if hasattr(result, "save") else result.paths
    if json_out:
        print_json({"out_dir": str(result.out_dir), "paths": [str(p) for p in paths]})
        return
    for path in paths:
        out.print(f"wrote {path}", highlight=False, soft_wrap=True)
