"""``optlab profile``: performance, data and runtime-ECDF profiles over a suite."""

from __future__ import annotations

import shlex
import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from optlab.cli._config import configurable, resolved_options
from optlab.cli._console import err, guarded, out, print_json, with_progress
from optlab.cli._options import Dtype, Json, LogEvery, Out, Overwrite, RootSeed
from optlab.cli._plugins import accepts_plugins, plugin_sources
from optlab.errors import UsageError
from optlab.labels import parse_values

HELP = """Performance, data and runtime-ECDF profiles of optimizers over a suite of problems.

Dolan-Moré performance profiles, Moré-Wild data profiles and a COCO-style runtime ECDF, with
cost = steps to reach a target relative to f(x0) - f*.

Give result folders of run or tune, or --suite with --opt to run first (with --tuned
best.csv, each optimizer at the setting tune chose).

Examples:

  optlab profile runs/tune-andrei

  optlab profile --suite andrei --tuned runs/tune-andrei/best.csv

  optlab profile --suite 2d --opt adam --opt sgd --steps 2000
"""


def save(result, out_dir: Path) -> list[Path]:
    from optlab.io import outputs
    from optlab.plots import profiles as plots

    tables = {
        "performance_profiles": result.performance,
        "data_profiles": result.data,
        "runtime_ecdf": result.ecdf,
        "costs": result.costs,
        "solved": result.solved,
    }
    if result.evidence.ran:  # the runs themselves, so the folder can be profiled again
        tables["trace"] = result.evidence.trace
    figures = {
        "performance_profiles": plots.performance_figure(result.performance, result.caption),
        "data_profiles": plots.data_figure(result.data, result.caption),
        "runtime_ecdf": plots.ecdf_figure(result.ecdf, result.caption),
    }
    return outputs.write_outputs(out_dir, tables, figures, result.manifest)


def solved_table(solved) -> Table:
    tols = sorted(solved["tolerance"].unique(), reverse=True)
    table = Table(title="fraction of problems solved within the budget", box=box.SIMPLE_HEAD)
    table.add_column("optimizer")
    for tol in tols:
        table.add_column(f"{tol:.0e}", justify="right")
    for solver, df in solved.groupby("solver", sort=False):
        by_tol = dict(zip(df["tolerance"], df["fraction_solved"], strict=True))
        table.add_row(escape(str(solver)), *(f"{by_tol[t]:.2f}" for t in tols))
    return table


@configurable
@guarded
@accepts_plugins  # --plugin FILE.py: plug-in optimizers and problems
def profile(
    results: Annotated[
        list[str] | None, typer.Argument(help="Result folders of run, tune or profile.")
    ] = None,
    suite: Annotated[
        str | None, typer.Option(help="Run this suite (or comma list of problems) first.")
    ] = None,
    opt: Annotated[
        list[str] | None, typer.Option("--opt", "-o", help="Optimizer for --suite (repeatable).")
    ] = None,
    tuned: Annotated[
        str | None, typer.Option(help="best.csv from tune: each optimizer at its tuned setting.")
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="Steps per run (default: the tuned horizon, else 1000).")
    ] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per problem with randomness (untuned).")] = 1,
    tolerances: Annotated[
        str, typer.Option(help="Tolerances of the performance and data profiles.")
    ] = "1e-1,1e-2,1e-3,1e-4,1e-5,1e-6,1e-7",
    log_every: LogEvery = None,
    root_seed: RootSeed = 0,
    out_dir: Out = None,
    overwrite: Overwrite = False,
    dtype: Dtype = "float64",
    json_out: Json = False,
) -> None:
    tols = tuple(parse_values(tolerances, "--tolerances"))
    if any(not 0 < t < 1 for t in tols):
        raise UsageError("--tolerances must lie in (0, 1)")
    if tuned and not suite:
        raise UsageError("--tuned goes with --suite (the problems to run at the tuned settings)")
    from optlab import compare
    from optlab.io import outputs

    config = compare.ProfileConfig(
        results=tuple(results or ()),
        suite=suite,
        optimizers=tuple(opt or ()),
        tuned=tuned,
        steps=steps,
        seeds=seeds,
        log_every=log_every,
        root_seed=root_seed,
        dtype=dtype,
        tolerances=tols,
        out=out_dir,
        overwrite=overwrite,
        command=shlex.join(["optlab", *sys.argv[1:]]),
    )
    name = suite or "results"
    folder = Path(out_dir) if out_dir else outputs.default_out_dir("profile", name)
    outputs.check_out_dir(folder, overwrite)
    with outputs.held(folder):  # held until the results are written
        call = partial(compare.run_profile, config)
        result = with_progress(call, "profiling", err.is_terminal and not json_out and bool(suite))
        result.manifest["cli"] = resolved_options()
        result.manifest["plugins"] = plugin_sources()
        paths = [str(p) for p in save(result, folder)]
    if json_out:
        print_json({"out_dir": str(folder), "paths": paths, "caption": result.caption})
        return
    out.print(solved_table(result.solved))
    out.print(result.caption, highlight=False, markup=False)
    for path in paths:
        out.print(f"wrote {path}", highlight=False, soft_wrap=True, markup=False)
