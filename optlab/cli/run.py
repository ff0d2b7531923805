"""``optlab run PROBLEM``: run optimizers (and grids of their hyperparameters) on a problem."""

from __future__ import annotations

import shlex
import shutil
import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from optlab.cli import _longrun
from optlab.cli._config import configurable, resolved_options
from optlab.cli._console import err, fail, fmt, guarded, out, print_json
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
    Resume,
    RootSeed,
    Schedule,
    Seeds,
    Shard,
    Steps,
    Values,
    Yes,
    hyper_values,
    shortcut_values,
)
from optlab.cli._plugins import PluginFiles, plugin_paths
from optlab.cli._tuned import Tuned
from optlab.config import RunConfig
from optlab.errors import UsageError

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


def seeds_agree(runs) -> bool:
    """Every label's seeds gave the same results (a deterministic problem)."""
    values = [c for c in runs.columns if c.startswith(("final_", "best_", "min_", "diverged"))]
    return bool((runs.groupby("label", sort=False)[values].nunique(dropna=False) <= 1).all().all())


def summary_table(result, keyed: bool = False) -> Table:
    """The summary; ``keyed``: labels replaced by #1, #2, ... (listed by :func:`label_key`)
    so that a narrow terminal never splits a label or a number."""
    summary = result.summary
    several = summary["seeds"].max() > 1
    title = f"{result.manifest['problem']['name']}: {result.config.steps} steps"
    if several:
        agree = seeds_agree(result.runs)
        title += " (every seed identical: one value)" if agree else " (medians over seeds)"
    any_diverged = bool((summary["diverged"] > 0).any())
    table = Table(
        title=title,
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
        label = f"#{len(rows) + 1}" if keyed else escape(row["label"])
        rows.append((label, str(row["seeds"]), *cells))
    table.add_column("label", no_wrap=True)
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


def print_summary(result) -> None:
    """The summary table as wide as it needs, where it fits the width (the terminal's, or
    80 columns when piped); else with its labels keyed #1, #2, ... below it; else one line
    per label. A label or a number is never split or cut."""
    table = summary_table(result)
    if natural_width(table) <= out.width:
        out.print(table)
        return
    keyed = summary_table(result, keyed=True)
    if natural_width(keyed) <= out.width:
        out.print(keyed)
        for k, label in enumerate(result.summary["label"], start=1):
            out.print(f"#{k} {label}", markup=False, highlight=False, soft_wrap=True)
        return
    out.print(keyed.title, markup=False, highlight=False)
    headings = [str(c.header) for c in keyed.columns]
    rows = zip(*(c.cells for c in keyed.columns), strict=True)
    for label, row in zip(result.summary["label"], rows, strict=True):
        fields = [f"{h}={v}" for h, v in zip(headings[1:], row[1:], strict=True)]
        out.print("  ".join([label, *fields]), markup=False, highlight=False, soft_wrap=True)


def natural_width(table: Table) -> int:
    """Columns the table takes when nothing is wrapped or cut."""
    from rich.measure import Measurement

    return Measurement.get(out, out.options.update_width(100_000), table).maximum


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
    resume: Resume = False,
    shard: Shard = None,
    yes: Yes = False,
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
    run_guarded(config, "run", resume=resume, shard=shard, yes=yes, json_out=json_out)


def run_guarded(config, kind: str, **flags) -> None:
    """Estimate, check and lock the folder, compute (cells kept for --resume), save;
    Ctrl-C at any point is exit 130 with one line saying what was kept."""
    try:
        _run_checked(config, kind, **flags)
    except KeyboardInterrupt:
        _longrun.interrupted_outside(config)


def _run_checked(config, kind: str, *, resume=False, shard=None, yes=False, json_out=False):
    from optlab import api  # JAX is imported here, not at `optlab --help`
    from optlab.cells import parse_shard
    from optlab.io import outputs

    part = parse_shard(shard)
    if resume and not config.out:
        raise UsageError("--resume needs --out: the folder of the interrupted run")
    info = api.plan(config, two_d=kind == "trajectory")
    out = Path(config.out) if config.out else outputs.default_out_dir(kind, info["problem"])
    est = _longrun.estimate(config, info)
    outputs.check_out_dir(out, config.overwrite, est["bytes"])
    _longrun.confirm(info, est, yes, json_out)
    compute = getattr(api, kind)
    if part is not None:
        compute = partial(_shard, api, config, part)
    else:
        compute = partial(_whole, compute, config)
    progress = err.is_terminal and not json_out
    result, store, lock = _longrun.execute(
        config, compute, out=out, resume=resume, progress=progress
    )
    try:
        if part is not None:
            from optlab.merge import save_shard

            paths = save_shard(out, store, config, part, result, fingerprint=store.fingerprint)
            if json_out:
                print_json({"out_dir": str(out), "paths": [str(p) for p in paths]})
            for path in [] if json_out else paths:
                out_print(f"wrote {path}")
            return
        result.manifest["cli"] = resolved_options()
        saved = partial(shutil.rmtree, store.folder, ignore_errors=True)  # cells: done with
        report(result, json_out, best=kind == "run", out_dir=out, saved=saved)
    finally:
        lock.release()


def _whole(compute, config, store, progress=None):
    return compute(config, progress, store=store)


def _shard(api, config, part, store, progress=None):
    return api.run_shard(config, part, store, progress)


def out_print(text: str) -> None:
    out.print(text, highlight=False, soft_wrap=True, markup=False)


def report(result, json_out: bool, best: bool = True, out_dir=None, saved=None) -> None:
    """Save a run's result (then call ``saved()``) and print its tables, timing and every
    path written."""
    from optlab.io.outputs import WriteError

    try:
        paths = [str(p) for p in result.save(out_dir)]
    except WriteError as e:
        fail(str(e), 1)
    if saved is not None:
        saved()
    if json_out:
        print_json(
            {
                "out_dir": str(result.out_dir),
                "paths": paths,
                "summary": result.summary.to_dict(orient="records"),
            }
        )
        return
    print_summary(result)
    table = best_per_optimizer(result) if best else None
    if table is not None and natural_width(table) <= out.width:
        out.print(table)
    elif table is not None:  # one line each: nothing split on a narrow terminal
        out.print(table.title, markup=False, highlight=False)
        for row in zip(*(c.cells for c in table.columns), strict=True):
            opt_id, label, mean, sem = row
            text = f"{opt_id}  {label}  {mean} ± {sem}"  # the label cell is escaped markup
            out.print(text, highlight=False, soft_wrap=True)
    m = result.manifest
    err.print(f"wall {m['wall_s']:.2f} s (compile {m['compile_s']:.2f} s)", highlight=False)
    for path in paths:
        out.print(f"wrote {path}", highlight=False, soft_wrap=True)
