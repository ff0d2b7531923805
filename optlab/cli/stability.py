"""``optlab stability [PROBLEM]``: Jacobian eigenvalues of an optimizer's step map at a
minimiser, over a hyperparameter grid, beside the closed forms and (``--simulate``) the
full iteration."""

from __future__ import annotations

import shlex
import sys
from functools import partial
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from optlab.cli._config import configurable
from optlab.cli._console import err, fmt, guarded, out, print_json, with_progress
from optlab.cli._options import HpList, Json, Out, Overwrite, Values, hyper_values
from optlab.cli._plugins import PluginFiles, plugin_paths
from optlab.config import StabilityConfig
from optlab.errors import UsageError
from optlab.io import outputs
from optlab.io.outputs import check_out_dir
from optlab.labels import parse_number

BOUNDARY_ROWS = 24  # rows of the boundary table printed (boundary.csv has all)

HELP = """Linear stability of an optimizer's step map at a minimiser, over a hyperparameter grid.

The Jacobian of one bias-free step (evaluated at t = 2**30) on (params, optimizer state) \
at the fixed point, by jax.jacfwd cross-checked with one-sided difference quotients; its \
eigenvalues beside the closed forms (Theorems 2-3 of arXiv:2112.06125, gradient descent, \
heavy ball), each eigenvalue with an error bound; with --simulate the full iteration from \
x* + delta at every grid point. Two swept axes give maps over them ((eta, eps), (b1, b2), \
...), with rho = 1 at the refined boundary.

Examples:

  optlab stability --p 2 --q 1 --eta 1e-8:1e-2:61 --eps 1e-30:1e-10:21 --mu 1e-10 --simulate

  optlab stability --p 2 --q 1 --eps 1e-10 --eta 1e-7:1e-3:81 --b2 0.999 --mu 1e-5

  optlab stability rosenbrock --opt heavy_ball --lr 1e-4:1e-2:21 --hp momentum=0.5,0.9

  optlab stability --opt adam --lr 1e-8 --b1 0:0.99:12 --b2 0.5:0.999:12

  optlab stability --opt amsgrad --lr 1e-7 --state v_max=1e-6
"""


def _states(items: list[str] | None) -> tuple[tuple[str, float], ...]:
    pairs = []
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"--state {item!r}: expected name=value")
        name, text = (s.strip() for s in item.split("=", 1))
        pairs.append((name, parse_number(text, f"--state {name}")))
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        raise UsageError("--state: a leaf is given twice")
    return tuple(pairs)


def build_config(problem, opt, shortcuts, hp, dim, state, **rest) -> StabilityConfig:
    values = hyper_values(shortcuts, hp)
    return StabilityConfig(
        problem=problem,
        optimizer=opt,
        hyper=tuple((k, tuple(v)) for k, v in values.items()),
        problem_options=(("dim", str(dim)),) if dim is not None else (),
        state=_states(state),
        command=shlex.join(["optlab", *sys.argv[1:]]),
        **rest,
    )


def status_table(result) -> Table:
    s = result.summary
    table = Table(
        title=f"{escape(result.manifest['optimizer']['id'])} on "
        f"{escape(result.manifest['problem']['name'])}: {s['points']} grid points"
    )
    table.add_column("status")
    table.add_column("points", justify="right")
    table.add_column("note", overflow="fold")
    notes = {
        "stable": "rho < 1 - tol",
        "unstable": "rho > 1 + tol",
        "undetermined": "|rho - 1| <= tol: Theorem 1 gives no verdict",
        "non_differentiable": "no full Jacobian at z*"
        + (
            " (reduced-block verdicts: "
            + ", ".join(f"{k} {v}" for k, v in s["reduced_verdict"].items())
            + ")"
            if s.get("reduced_verdict")
            else ""
        ),
    }
    for status, count in s["status"].items():
        table.add_row(status, str(count), notes[status])
    return table


BOUNDARY_HEADS = {
    "boundary_exact": "exact (theory)",
    "boundary_refined": "analyzer",
    "refined_vs_exact": "rel.",
    "linear_last_stable": "stable side",
    "linear_first_unstable": "unstable side",
    "sim_boundary_refined": "simulated",
    "sim_vs_exact": "rel.",
    "sim_last_decays": "sim: decays side",
    "sim_first_unstable": "sim: unstable side",
}
RELATIVE = ("refined_vs_exact", "sim_vs_exact")


def _boundary_columns(b) -> list[str]:
    """The other axes, the exact boundary, then the refined boundaries where bisected (else
    the grid points on either side of the switch), linear first, then simulated."""

    def refined(name):
        return name in b.columns and b[name].notna().any()

    lin = (
        ["boundary_refined", "refined_vs_exact"]
        if refined("boundary_refined")
        else ["linear_last_stable", "linear_first_unstable"]
    )
    sim = (
        ["sim_boundary_refined", "sim_vs_exact"]
        if refined("sim_boundary_refined")
        else ["sim_last_decays", "sim_first_unstable"]
    )
    others = [c for c in b.columns if c.startswith("hp_")]
    return others + [c for c in ("boundary_exact", *lin, *sim) if c in b.columns]


def boundary_table(result) -> Table | None:
    """The first BOUNDARY_ROWS rows of boundary.csv (the CLI says when there are more)."""
    import numpy as np

    b = result.boundary
    if b is None or not len(b):
        return None
    values = [c for c in BOUNDARY_HEADS if c in b.columns and c not in RELATIVE]
    if not np.isfinite(b[values].to_numpy(float)).any():
        return None  # nothing to show: no boundary in range and no closed form
    table = Table(title=f"stability boundary along {result.summary.get('boundary_axis', '')}")
    cols = _boundary_columns(b)
    for c in cols:
        head = BOUNDARY_HEADS.get(c, c[3:] if c.startswith("hp_") else c)
        table.add_column(head, justify="right", no_wrap=True)
    for row in b.to_dict(orient="records")[:BOUNDARY_ROWS]:
        cells = [
            ("-" if row[c] != row[c] else f"{row[c]:+.2g}") if c in RELATIVE else fmt(row[c])
            for c in cols
        ]
        table.add_row(*cells)
    return table


def agreement_lines(result) -> list[str]:
    s = result.summary
    lines = []
    th = s.get("theory")
    if th:
        err_text = "-" if th["max_eigenvalue_error"] is None else fmt(th["max_eigenvalue_error"])
        lines.append(
            f"theory vs autodiff: {th['same_verdict']}/{th['points']} same verdict; "
            f"{th['within_error_bounds']}/{th['compared']} points with every eigenvalue within "
            f"its error bound; largest difference {err_text} (relative to max(1, |lambda|), "
            f"over eigenvalues above their achievable accuracy) ({'; '.join(th['forms'])})"
        )
    sim = s.get("simulation")
    if sim:
        cls = ", ".join(f"{k} {v}" for k, v in sim["classes"].items())
        agree = ", ".join(f"{k} {v}" for k, v in sim["agreement"].items())
        lines.append(
            f"simulation: {cls}; underflow-flagged decays {sim['underflow_flagged']}; stalls "
            f"creeping algebraically (d ~ t^k, k < -0.5) {sim['stalls_creeping']}"
        )
        lines.append(f"linear verdict vs simulation: {agree}")
        if sim["start_outside_linear_regime"]:
            lin = ", ".join(f"{k} {v}" for k, v in sim["agreement_linear_start"].items())
            lines.append(
                f"{sim['start_outside_linear_regime']} points start outside the linear regime "
                f"(the linear prediction does not apply there); with a linear start: {lin or '-'}"
            )
    b = result.boundary
    if b is not None and "paper_vs_exact" in b.columns and b["paper_vs_exact"].notna().any():
        rel = b["paper_vs_exact"].dropna()
        lines.append(
            "exact boundary phi < (1 + b1)(2 - mu)/(1 - b1) vs the paper's (25) "
            "phi (1 - b1) < 2 b1 + 2 (1 - mu): (25) is stricter by exactly mu in phi "
            f"(relative {rel.min():.3g} .. {rel.max():.3g} here)"
        )
    lines.append("bias correction removed by evaluating the step at t = 2**30")
    return lines


@configurable  # --config FILE.toml (optlab.cli._config)
@guarded
def stability(
    problem: Annotated[
        str, typer.Argument(help="Problem with a known minimiser (default: quadratic, 5x^2).")
    ] = "quadratic",
    opt: Annotated[
        str, typer.Option("--opt", "-o", help="Optimizer id or 'id[key=value,...]'.")
    ] = "aida_pq",
    lr: Annotated[str | None, typer.Option("--lr", "--eta", help="Learning rate(s).")] = None,
    b1: Values = None,
    b2: Values = None,
    eps: Values = None,
    mu: Values = None,
    p: Values = None,
    q: Values = None,
    hp: HpList = None,
    dim: Annotated[int | None, typer.Option(help="Problem dimension (Andrei suite).")] = None,
    state: Annotated[
        list[str] | None,
        typer.Option("--state", help="Fixed-point state leaf: name=value (e.g. v_max=1e-6)."),
    ] = None,
    minimiser: Annotated[int, typer.Option(help="Which known minimiser (index).")] = 0,
    tol: Annotated[float, typer.Option(help="|rho - 1| <= tol is undetermined.")] = 1e-8,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Also run the full iteration from x* + delta.")
    ] = False,
    sim_steps: Annotated[int, typer.Option(help="Simulated steps T.")] = 20_000,
    delta: Annotated[float, typer.Option(help="Simulation start offset x0 = x* + delta.")] = 1e-10,
    out_dir: Out = None,
    overwrite: Overwrite = False,
    json_out: Json = False,
    plugin: PluginFiles = None,
) -> None:
    config = build_config(
        problem,
        opt,
        {"lr": lr, "b1": b1, "b2": b2, "eps": eps, "mu": mu, "p": p, "q": q},
        hp,
        dim,
        state,
        minimiser=minimiser,
        tol=tol,
        simulate=simulate,
        sim_steps=sim_steps,
        delta=delta,
        out=out_dir,
        overwrite=overwrite,
        plugins=plugin_paths(plugin),
    )
    from optlab import api_stability  # JAX is imported here, not at `optlab --help`

    out_path = api_stability.output_dir(config)
    check_out_dir(out_path, overwrite)  # before any work: a taken folder is exit 2
    with outputs.held(out_path):  # held until the results are written
        result = with_progress(
            partial(api_stability.stability, config), "analysing", err.is_terminal and not json_out
        )
        paths = [str(p) for p in result.save(out_path)]
    if json_out:
        print_json({"out_dir": str(out_path), "paths": paths, "summary": result.summary})
        return
    out.print(status_table(result))
    bt = boundary_table(result)
    if bt is not None:
        out.print(bt)
        if len(result.boundary) > BOUNDARY_ROWS:
            out.print(
                f"(the first {BOUNDARY_ROWS} of {len(result.boundary)} boundary rows; all are "
                "in boundary.csv)",
                highlight=False,
            )
    for line in agreement_lines(result):
        out.print(escape(line), highlight=False, soft_wrap=True)
    m = result.manifest
    err.print(f"wall {m['wall_s']:.2f} s (compile {m['compile_s']:.2f} s)", highlight=False)
    for path in paths:
        out.print(f"wrote {escape(path)}", highlight=False, soft_wrap=True)
