"""Shards of one ``optlab run``: what ``--shard i/n`` writes, and ``optlab merge`` combining
the shards into the tables an unsharded run writes (byte for byte: the same cells, read
back exactly)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from optlab.cells import MergedStore, read_fingerprint
from optlab.errors import UsageError
from optlab.io import outputs

CELLS = "cells"


def save_shard(out: Path, store, config, part, n_cells: int, fingerprint: dict) -> list[Path]:
    """Move the shard's cells into ``out/cells`` and write its manifest; returns the paths.
    Only files an earlier optlab run listed in ``out``'s manifest are replaced."""
    out.mkdir(parents=True, exist_ok=True)
    for name in outputs.written_before(out):
        old = out / name
        shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    os.replace(store.folder, out / CELLS)
    manifest = {
        "kind": "shard",
        "shard": f"{part[0]}/{part[1]}",
        "cells": n_cells,
        "config": config.to_dict(),
        "fingerprint": fingerprint,
        "files": [CELLS, "manifest.json"],
    }
    tmp = out / ".manifest.json.partial"
    outputs.write_json(manifest, tmp)
    os.replace(tmp, out / "manifest.json")
    return [out / CELLS, out / "manifest.json"]


def read_shards(folders: list[Path]):
    """(config, MergedStore) of complete, matching shards, or a UsageError naming the
    folder that is not a shard, comes from another command or version, or is missing."""
    from optlab.config import RunConfig

    if not folders:
        raise UsageError("merge needs the shard folders (written by optlab run --shard i/n)")
    manifests = [_shard_manifest(Path(f)) for f in folders]
    first = manifests[0]
    for folder, m in zip(folders[1:], manifests[1:], strict=True):
        if m["fingerprint"] != first["fingerprint"]:
            raise UsageError(
                f"{folder} comes from another command or optlab version than {folders[0]}"
            )
    n = int(first["shard"].split("/")[1])
    seen: dict[int, Path] = {}
    for folder, m in zip(folders, manifests, strict=True):
        i, n_i = (int(v) for v in m["shard"].split("/"))
        if n_i != n:
            raise UsageError(f"{folder} is shard {m['shard']}, not one of {n}")
        if i in seen:
            raise UsageError(f"shard {i}/{n} is given twice: {seen[i]} and {folder}")
        seen[i] = Path(folder)
    missing = [f"{i}/{n}" for i in range(n) if i not in seen]
    if missing:
        raise UsageError(f"missing shard(s) {', '.join(missing)}")
    config = RunConfig.from_dict(first["config"])
    return config, MergedStore([Path(f) / CELLS for f in folders])


def _shard_manifest(folder: Path) -> dict:
    try:
        m = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        raise UsageError(f"{folder} has no readable manifest.json") from None
    if not isinstance(m, dict) or m.get("kind") != "shard":
        raise UsageError(f"{folder} is not a shard (written by optlab run --shard i/n)")
    if read_fingerprint(folder / CELLS) != m.get("fingerprint"):
        raise UsageError(f"{folder}: its cells do not match its manifest")
    return m
