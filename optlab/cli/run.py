"""``optlab run PROBLEM``: run optimizers (and grids of their hyperparameters) on a problem."""

from __future__ import annotations

import shlex
import sys
from functools import partial
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from optlab.cli._config import configurable, resolved_options
from optlab.cli._console import err, fmt, guarded, out, print_json, with_progress
from optlab.cli._options import (
    Diagnostics,
    Dim,
    Dtype,
    HpList,
    Json,
    LogEvery,
    Lr,
    Opts,
    Out,
    Overwrite,
    RecordX,
    RootSeed,
    Schedule,
    Seeds,
    Steps,
    Values,
    hyper_values,
    shortcut_values,
)
from optlab.cli._plugins import PluginFiles, plugin_paths
from optlab.cli._tuned import Tuned
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
    tuned: str | None = None,
    **rest,
) -> RunConfig:
    values = hyper_values(shortcuts, hp)
    optimizers, protocol = tuple(opt or ["aida_pq"]), ""
    if tuned:  # each optimizer at the setting `optlab tune` chose, for its horizon
        from optlab import registry
        from optlab.cli._tuned import apply

        seeds = rest.get("seeds", 1)
        with registry.with_plugins(rest.get("plugins", ())):  # best.csv may name plug-ins
            optimizers, rest["steps"], protocol = apply(
                tuned, problem, opt, values, rest["steps"], seeds, dim
            )
    return RunConfig(
        problem=problem,
        optimizers=optimizers,
        protocol=protocol,
        hyper=tuple((k, tuple(v)) for k, v in values.items()),
        problem_options=(("dim", str(dim)),) if dim is not None else (),
        command=shlex.join(["optlab", *sys.argv[1:]]),
        **rest,
    )


COLUMNS = [  # (summary column, heading); optional ones are shown when present
    ("final_x", "x_T"),  # 1-D problems
    ("final_grad_norm", "‖∇f‖_T"),
    ("min_grad_norm", "min ‖∇f‖"),
    ("final_loss", "f_T"),
    ("best_loss", "best f"),
    ("final_gap", "f_T − f*"),
    ("final_avg_regret", "R_T/T"),
    ("success_rate", "success"),
]


def summary_table(result) -> Table:
    summary = result.summary
    several = summary["seeds"].max() > 1
    title = f"{result.manifest['problem']['name']}: {result.config.steps} steps"
    any_diverged = bool((summary["diverged"] > 0).any())
    table = Table(
        title=title + (" (medians over seeds)" if several else ""),
        caption=None if any_diverged else "no run diverged",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),  # the box's one-space separators suffice; room for the numbers
    )
    shown = [(c, h) for c, h in COLUMNS if _worth_showing(summary, c)]
    rows = []
    for _, row in summary.iterrows():
        cells = [f"{100 * row[c]:.0f} %" if c == "success_rate" else fmt(row[c]) for c, _ in shown]
        if any_diverged:
            n_div = row["diverged"]
            cells.append(
                "no" if n_div == 0 else f"{n_div}/{row['seeds']} at {row['first_diverged_step']}"
            )
        rows.append((escape(row["label"]), str(row["seeds"]), *cells))
    # numbers are never cut or wrapped; on a narrow terminal the label column folds instead
    table.add_column("label", overflow="fold", min_width=12)
    headings = ["seeds", *(h for _, h in shown)] + (["diverged"] if any_diverged else [])
    for i, heading in enumerate(headings, start=1):
        width = max(len(r[i]) for r in rows)
        style = "red" if heading == "diverged" else None
        table.add_column(heading, justify="right", no_wrap=True, min_width=width, style=style)
    for r in rows:
        table.add_row(*r)
    return table


# online problems (regret columns): f is the loss revealed at the last step, so its best
# value and the gradient norms say little; x_T, f - f* and R_T/T are what the claims are about
ONLINE_HIDDEN = {"final_grad_norm", "min_grad_norm", "final_loss", "best_loss"}


def _worth_showing(summary, column: str) -> bool:
    """A column with a value somewhere; f - f* only where it differs from f (f* != 0)."""
    if column not in summary.columns or not summary[column].notna().any():
        return False
    if column in ONLINE_HIDDEN and "final_avg_regret" in summary.columns:
        return False
    if column == "final_gap" and "final_loss" in summary.columns:
        return not summary[column].equals(summary["final_loss"])
    return True


def best_per_optimizer(result) -> Table | None:
    """With a grid: each optimizer's best label by mean final f - f* (or f)."""
    s = result.summary
    key = "final_gap_mean" if s["final_gap_mean"].notna().any() else "final_loss_mean"
    if s.groupby("optimizer").size().max() < 2 or s[key].isna().all():
        return None
    table = Table(
        title=f"best per optimizer (mean final {'f−f*' if 'gap' in key else 'f'})",
        box=box.SIMPLE_HEAD,
    )
    for col in ("optimizer", "label", "mean", "± s.e."):
        table.add_column(col, justify="left" if col in ("optimizer", "label") else "right")
    for opt_id, df in s.groupby("optimizer", sort=False):
        if df[key].isna().all():
            continue
        row = df.loc[df[key].idxmin()]
        table.add_row(
            opt_id, escape(row["label"]), fmt(row[key]), fmt(row[key.replace("_mean", "_sem")])
        )
    return table


@configurable
@guarded
def run(
    problem: Annotated[
        str, typer.Argument(help="Problem id or alias, e.g. fun5, tridia, 'quadratic[gamma=10]'.")
    ],
    opt: Opts = None,
    lr: Lr = None,
    b1: Values = None,
    b2: Values = None,
    eps: Values = None,
    mu: Values = None,
    p: Values = None,
    q: Values = None,
    hp: HpList = None,
    dim: Dim = None,
    steps: Steps = RunConfig.steps,
    tuned: Tuned = None,
    log_every: LogEvery = RunConfig.log_every,
    seeds: Seeds = RunConfig.seeds,
    root_seed: RootSeed = RunConfig.root_seed,
    record_x: RecordX = RunConfig.record_x,
    schedule: Schedule = RunConfig.schedule,
    diagnostics: Diagnostics = RunConfig.diagnostics,
    out_dir: Out = RunConfig.out,
    overwrite: Overwrite = RunConfig.overwrite,
    dtype: Dtype = RunConfig.dtype,
    json_out: Json = False,
    plugin: PluginFiles = None,
) -> None:
    config = build_config(
        problem,
        opt,
        shortcut_values(lr, b1, b2, eps, mu, p, q),
        hp,
        dim,
        tuned,
        steps=steps,
        log_every=log_every,
        seeds=seeds,
        root_seed=root_seed,
        record_x=record_x,
        out=out_dir,
        overwrite=overwrite,
        dtype=dtype,
        schedule=schedule,
        diagnostics=diagnostics,
        plugins=plugin_paths(plugin),
    )
    from optlab import api  # JAX is imported here, not at `optlab --help`

    result = with_progress(partial(api.run, config), "running", err.is_terminal and not json_out)
    result.manifest["cli"] = resolved_options()
    report(result, json_out)


def report(result, json_out: bool, best: bool = True) -> None:
    """Save a run's result and print its tables, timing and every path written."""
    paths = [str(p) for p in result.save()]
    if json_out:
        print_json(
            {
                "out_dir": str(result.out_dir),
                "paths": paths,
                "summary": result.summary.to_dict(orient="records"),
            }
        )
        return
    out.print(summary_table(result))
    table = best_per_optimizer(result) if best else None
    if table is not None:
        out.print(table)
    m = result.manifest
    err.print(f"wall {m['wall_s']:.2f} s (compile {m['compile_s']:.2f} s)", highlight=False)
    for path in paths:
        out.print(f"wrote {path}", highlight=False, soft_wrap=True)
