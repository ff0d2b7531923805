"""``optlab tune PROBLEM|SUITE``: the same budget of configurations for every optimizer."""

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
from optlab.cli._console import err, fmt, guarded, out, print_json, with_progress
from optlab.cli._options import Dtype, Json, LogEvery, Out, Overwrite, RootSeed
from optlab.cli._plugins import accepts_plugins, plugin_sources

HELP = """Tune every optimizer with the same budget of configurations from a declared space.

The objective never reads x* or f*: the mean over tuning seeds of the final loss (or of its
mean over the last fraction of steps), diverged runs as +inf. On problems with randomness the
winner is scored again on held-out seeds. Writes tune.csv, best.csv, best_trace.csv,
tuning.png and manifest.json.

Examples:

  optlab tune fun5 --opt adam --opt sgd --budget 16 --steps 2000

  optlab tune andrei --opt adam --opt aida_pq --opt sgd --budget 32 --steps 10000

  optlab tune nqm --opt adam --opt madam --space lr=1e-4:1 --space adam:b1=0.5:0.99
"""


def save(result, out_dir: Path) -> list[Path]:
    """Tables, the tuning figure (protocol in its caption) and the manifest."""
    from optlab.io import outputs
    from optlab.plots.tuning import tuning_figure

    tables = {"tune": result.tune, "best": result.best, "best_trace": result.best_trace}
    figures = {"tuning": tuning_figure(result.tune, result.caption)}
    return outputs.write_outputs(out_dir, tables, figures, result.manifest)


def best_table(best) -> Table:
    table = Table(title="tuned setting per problem and optimizer", box=box.SIMPLE_HEAD)
    for col in ("problem", "optimizer", "label"):
        table.add_column(col, overflow="fold")  # labels are never cut: they re-run with --opt
    for col in ("objective", "held-out"):
        table.add_column(col, justify="right", no_wrap=True)
    for _, row in best.iterrows():
        label = escape(row["label"]) if row["label"] else "[red]every configuration diverged[/]"
        cells = (fmt(row["objective"]), fmt(row["heldout_objective"]))
        table.add_row(row["problem"], escape(row["spec"]), label, *cells)
    return table


@configurable
@guarded
@accepts_plugins  # --plugin FILE.py: plug-in optimizers and problems
def tune(
    target: Annotated[
        str,
        typer.Argument(
            help="A problem, a comma list of problems, or a suite (optlab list suites)."
        ),
    ],
    opt: Annotated[
        list[str] | None,
        typer.Option(
            "--opt", "-o", help="Optimizer id or 'id\\[key=value,...]' (repeatable)."
        ),  # \\[ : a literal bracket in rich help
    ] = None,
    budget: Annotated[int, typer.Option(help="Configurations per optimizer.")] = 32,
    steps: Annotated[int, typer.Option(help="Steps of every run (the same horizon).")] = 1000,
    space: Annotated[
        list[str] | None,
        typer.Option(
            "--space",
            help="Searched range [OPT:]NAME=LO:HI[:log|lin] (repeatable; default lr=1e-5:1:log).",
        ),
    ] = None,
    sampler: Annotated[str, typer.Option(help="sobol (scrambled, seeded) or grid.")] = "sobol",
    sample_seed: Annotated[int, typer.Option(help="Seed of the Sobol scrambling.")] = 0,
    seeds: Annotated[int, typer.Option(help="Tuning seeds (problems with randomness).")] = 3,
    heldout_seeds: Annotated[
        int, typer.Option(help="Held-out seeds that score the winner (problems with randomness).")
    ] = 5,
    objective: Annotated[
        str, typer.Option(help="final, or last:F (mean loss over the last fraction F).")
    ] = "final",
    schedule: Annotated[
        str, typer.Option(help="constant or inv_sqrt (lr/sqrt(t)), the same for every optimizer.")
    ] = "constant",
    log_every: LogEvery = None,
    root_seed: RootSeed = 0,
    out_dir: Out = None,
    overwrite: Overwrite = False,
    dtype: Dtype = "float64",
    json_out: Json = False,
) -> None:
    from optlab import tune as lib  # JAX is imported here, not at `optlab --help`
    from optlab.io import outputs

    config = lib.TuneConfig(
        target=target,
        optimizers=tuple(opt or ()),
        budget=budget,
        steps=steps,
        space=tuple(space or ()),
        sampler=sampler,
        sample_seed=sample_seed,
        seeds=seeds,
        heldout_seeds=heldout_seeds,
        objective=objective,
        schedule=schedule,
        log_every=log_every,
        root_seed=root_seed,
        dtype=dtype,
        out=out_dir,
        overwrite=overwrite,
        command=shlex.join(["optlab", *sys.argv[1:]]),
    )
    _, name, _, _ = lib.prepare(config)  # every check before any work
    folder = Path(out_dir) if out_dir else outputs.default_out_dir("tune", name)
    outputs.check_out_dir(folder, overwrite)
    with outputs.held(folder):  # held until the results are written
        result = with_progress(
            partial(lib.tune, config), "tuning", err.is_terminal and not json_out
        )
        result.manifest["cli"] = resolved_options()
        result.manifest["plugins"] = plugin_sources()
        paths = [str(p) for p in save(result, folder)]
    if json_out:
        print_json({"out_dir": str(folder), "paths": paths, "best": result.best.to_dict("records")})
        return
    out.print(best_table(result.best))
    out.print(result.caption, highlight=False, markup=False)
    m = result.manifest
    err.print(f"wall {m['wall_s']:.2f} s (compile {m['compile_s']:.2f} s)", highlight=False)
    for path in paths:
        out.print(f"wrote {path}", highlight=False, soft_wrap=True, markup=False)
