"""Explicit saves for ``optlab reproduce``: the run folder (figures, the underlying CSVs,
verdicts.csv, manifest.json) and, when asked, the committed gallery in ``figures/``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from optlab.io import outputs
from optlab.reproduce import CLAIMS, verdict_frame
from optlab.reproduce._run import ClaimResult

GALLERY = Path(__file__).resolve().parents[2] / "figures"
GALLERY_VERDICTS = "verdicts.csv"


def _tables(name: str, result) -> dict[str, object]:
    if hasattr(result, "runs"):  # RunResult
        return {f"{name}_runs": result.runs, f"{name}_summary": result.summary}
    tables = {f"{name}_stability": result.table}
    if getattr(result, "boundary", None) is not None:
        tables[f"{name}_boundary"] = result.boundary
    return tables


def _config_dict(config) -> dict:
    return dataclasses.asdict(config)


def save_results(results: list[ClaimResult], out_dir: Path, command: str) -> list[Path]:
    """``out_dir/<claim>/<claim>.png`` and ``<config>_runs.csv`` / ``_summary.csv`` /
    ``_stability.csv``; ``out_dir/verdicts.csv``; ``out_dir/manifest.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for res in results:
        folder = out_dir / res.claim.id
        folder.mkdir(exist_ok=True)
        for name, result in res.results.items():
            for table, df in _tables(name, result).items():
                paths.append(outputs.write_table(df, folder / f"{table}.csv"))
        if res.figure is not None:
            paths.append(outputs.write_figure(res.figure, folder / f"{res.claim.id}.png"))
    paths.append(outputs.write_table(verdict_frame(results), out_dir / "verdicts.csv"))
    from optlab._jax import environment

    manifest = {
        "command": command,
        "claims": [
            {
                "id": r.claim.id,
                "paper": r.claim.paper.cite(),
                "where": r.claim.where,
                "verdict": r.verdict,
                "quick": r.quick,
                "wall_s": round(r.seconds, 2),
                "protocol": {n: _config_dict(c) for n, c in r.claim.protocol(r.quick).configs},
            }
            for r in results
        ],
        **environment(),
    }
    paths.append(outputs.write_json(manifest, out_dir / "manifest.json"))
    return paths


def update_gallery(results: list[ClaimResult], gallery: Path = GALLERY) -> list[Path]:
    """Copy the figures of full-protocol results into ``figures/`` and regenerate
    ``figures/verdicts.csv`` (rows of other claims kept) and ``figures/README.md``."""
    from optlab.errors import UsageError

    if any(r.quick for r in results):
        raise UsageError("--update-gallery takes the full protocols only (drop --quick)")
    if not gallery.is_dir():
        raise UsageError(f"no gallery folder {gallery} (run from a source checkout)")
    paths = []
    for res in results:
        if res.figure is not None:
            paths.append(outputs.write_figure(res.figure, gallery / f"{res.claim.id}.png"))
    new = verdict_frame(results)
    old_path = gallery / GALLERY_VERDICTS
    if old_path.is_file():
        old = pd.read_csv(
            old_path, dtype={"tolerance": str, "expected": str}, keep_default_na=False
        )
        old = old[~old["claim"].isin(new["claim"]) & old["claim"].isin(CLAIMS)]
        new = pd.concat([old, new], ignore_index=True)
    order = {cid: k for k, cid in enumerate(CLAIMS)}
    new = new.sort_values("claim", key=lambda s: s.map(order), kind="stable")
    paths.append(outputs.write_table(new, old_path))
    from optlab.reproduce.gallery import readme

    readme_path = gallery / "README.md"
    readme_path.write_text(readme(new, {p.name for p in gallery.glob("*.png")}))
    paths.append(readme_path)
    return paths
