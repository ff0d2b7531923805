"""``optlab run PROBLEM``: run optimizers (and grids of their hyperparameters) on a problem."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer
from rich.table import Table

from optlab.cli._console import err, fmt, guarded, out, print_json
from optlab.cli._options import Dtype, HpList, Json, Out, Overwrite, Values, hyper_values
from optlab.config import RunConfig

HELP = """Run optimizers on a problem; comma lists make a grid that runs as one compiled program.

Examples:

  optlab run fun5 --p 1 --q 2

  optlab run fun5 --opt aida_pq --opt 'adam[learning_rate=0.01]' --steps 5000

  optlab run tridia --p 1,2 --q 1,2 --lr 1e-3,1e-2 --out runs/grid
"""


def build_config(
    problem: str,
    opt: list[str] | None,
    shortcuts: dict[str, str | None],
    hp: list[str] | None,
    dim: int | None,
    **rest,
) -> RunConfig:
    values = hyper_values(shortcuts, hp)
    return RunConfig(
        problem=problem,
        optimizers=tuple(opt or ["aida_pq"]),
        hyper=tuple((k, tuple(v)) for k, v in values.items()),
        problem_options=(("dim", str(dim)),) if dim is not None else (),
        command=shlex.join(["optlab", *sys.argv[1:]]),
        **rest,
    )


def summary_table(result) -> Table:
    table = Table(title=f"{result.manifest['problem']['name']}: {result.config.steps} steps")
    table.add_column("label", overflow="fold")
    for col in ("seeds", "final ‖∇f‖", "min ‖∇f‖", "final f", "best f", "final f−f*"):
        table.add_column(col, justify="right")
    table.add_column("diverged", justify="right", no_wrap=True, min_width=8)
    for row in result.summary.itertuples():
        div = "no" if row.diverged == 0 else f"[red]{row.diverged}/{row.seeds} at {row.first_diverged_step}[/]"
        table.add_row(
            row.label, str(row.seeds), fmt(row.final_grad_norm), fmt(row.min_grad_norm),
            fmt(row.final_loss), fmt(row.best_loss), fmt(row.final_gap), div,
        )
    return table


def _progress_bar(enabled: bool):
    if not enabled:
        return None, None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("running"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   TimeElapsedColumn(), console=err, transient=True)
    task = bar.add_task("run", total=1.0)
    return bar, lambda frac: bar.update(task, completed=frac)


@guarded
def run(
    problem: Annotated[str, typer.Argument(help="Problem id or alias, e.g. fun5, tridia, 'quadratic[gamma=10]'.")],
    opt: Annotated[list[str] | None, typer.Option("--opt", "-o", help="Optimizer id, or 'id[key=value,...]' (repeatable; default aida_pq).")] = None,
    lr: Annotated[str | None, typer.Option("--lr", "--eta", help="Learning rate(s).")] = None,
    b1: Values = None,
    b2: Values = None,
    eps: Values = None,
    mu: Values = None,
    p: Values = None,
    q: Values = None,
    hp: HpList = None,
    dim: Annotated[int | None, typer.Option(help="Problem dimension (Andrei suite: default 100).")] = None,
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 10_000,
    log_every: Annotated[int | None, typer.Option(help="Record every N steps (default steps/1000).")] = None,
    seeds: Annotated[int, typer.Option(help="Number of seeds 0..N-1 (vmapped).")] = 1,
    root_seed: Annotated[int, typer.Option(help="Root of the random keys.")] = 0,
    record_x: Annotated[bool, typer.Option("--record-x", help="Write the iterates x_0.. to trace.csv.")] = False,
    out_dir: Out = None,
    overwrite: Overwrite = False,
    dtype: Dtype = "float64",
    json_out: Json = False,
) -> None:
    config = build_config(
        problem, opt, {"lr": lr, "b1": b1, "b2": b2, "eps": eps, "mu": mu, "p": p, "q": q}, hp, dim,
        steps=steps, log_every=log_every, seeds=seeds, root_seed=root_seed, record_x=record_x,
        out=out_dir, overwrite=overwrite, dtype=dtype,
    )
    from optlab import api  # JAX is imported here, not at `optlab --help`

    bar, tick = _progress_bar(err.is_terminal and not json_out)
    if bar is not None:
        with bar:
            result = api.run(config, progress=tick)
    else:
        result = api.run(config)
    paths = [str(p) for p in result.paths]
    if json_out:
        print_json({"out_dir": str(result.out_dir), "paths": paths,
                    "summary": result.summary.to_dict(orient="records")})
        return
    out.print(summary_table(result))
    m = result.manifest
    err.print(f"wall {m['wall_s']:.2f} s (compile {m['compile_s']:.2f} s)", highlight=False)
    for path in paths:
        out.print(f"wrote {path}", highlight=False, soft_wrap=True)
