"""``optlab merge DIR... --out DIR``: the shards of one run combined into its results."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from optlab.cli._console import guarded
from optlab.cli._options import Json, Out, Overwrite

HELP = """Combine the shards of one run (optlab run ... --shard i/n) into the results the
whole run writes, byte for byte.

Example:

  optlab merge runs/part-0 runs/part-1 runs/part-2 --out runs/all
"""


@guarded
def merge(
    folders: Annotated[list[Path], typer.Argument(help="The shard folders (every i of n).")],
    out_dir: Out = None,
    overwrite: Overwrite = False,
    json_out: Json = False,
) -> None:
    from optlab import api
    from optlab.cli import _longrun
    from optlab.cli.run import report
    from optlab.errors import UsageError
    from optlab.io import outputs
    from optlab.merge import read_shards

    if not out_dir:
        raise UsageError("merge needs --out: the folder for the combined results")
    config, store = read_shards(folders)
    out = Path(out_dir)
    config = dataclasses.replace(config, out=str(out), overwrite=overwrite)
    info = api.plan(config)
    est = _longrun.estimate(config, {**info, "runs": 0})
    outputs.check_out_dir(out, overwrite, est["bytes"])
    with outputs.FolderLock(out):
        result = api.run(config, store=store)
        result.manifest["merged_from"] = [str(f) for f in folders]
        report(result, json_out, out_dir=out)
