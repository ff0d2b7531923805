"""``optlab trajectory PROBLEM``: optimizer paths over a 2-D loss landscape (PNG, GIF)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer

from optlab.cli._console import err, guarded, out, print_json, with_progress
from optlab.cli._options import Dtype, HpList, Json, Out, Overwrite, Values
from optlab.cli._plugins import PluginFiles, plugin_paths
from optlab.cli.run import build_config, summary_table
from optlab.config import TrajectoryConfig

HELP = """Run optimizers on a 2-D problem and draw their paths over the loss landscape.

Examples:

  optlab trajectory rosenbrock --opt adam --opt adamomentum --lr 0.1 --gif

  optlab trajectory 'quadratic[gamma=[1,10],x0=[1,1]]' --opt sgd --opt heavy_ball --lr 0.05
"""


@guarded
def trajectory(
    problem: Annotated[str, typer.Argument(help="A 2-D problem id, e.g. rosenbrock, beale.")],
    opt: Annotated[
        list[str] | None, typer.Option("--opt", "-o", help="Optimizer id or 'id[key=value,...]'.")
    ] = None,
    lr: Annotated[str | None, typer.Option("--lr", "--eta", help="Learning rate(s).")] = None,
    b1: Values = None,
    b2: Values = None,
    eps: Values = None,
    mu: Values = None,
    p: Values = None,
    q: Values = None,
    hp: HpList = None,
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 500,
    log_every: Annotated[int | None, typer.Option(help="Record every N steps.")] = None,
    seeds: Annotated[int, typer.Option(help="Number of seeds (the first is drawn).")] = 1,
    gif: Annotated[bool, typer.Option("--gif", help="Also write trajectory.gif.")] = False,
    frames: Annotated[int, typer.Option(help="GIF frames.")] = 60,
    resolution: Annotated[int, typer.Option(help="Mesh points per axis.")] = 200,
    out_dir: Out = None,
    overwrite: Overwrite = False,
    dtype: Dtype = "float64",
    json_out: Json = False,
    plugin: PluginFiles = None,
) -> None:
    base = build_config(
        problem,
        opt,
        {"lr": lr, "b1": b1, "b2": b2, "eps": eps, "mu": mu, "p": p, "q": q},
        hp,
        None,
        steps=steps,
        log_every=log_every or max(1, steps // 500),
        seeds=seeds,
        out=out_dir,
        overwrite=overwrite,
        dtype=dtype,
        record_x=True,
        plugins=plugin_paths(plugin),
    )
    config = TrajectoryConfig(
        **{**base.to_dict(), "gif": gif, "frames": frames, "resolution": resolution}
    )
    from optlab import api

    result = with_progress(
        partial(api.trajectory, config), "running", err.is_terminal and not json_out
    )
    paths = [str(p) for p in result.paths]
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
    err.print(f"wall {result.manifest['wall_s']:.2f} s", highlight=False)
    for path in paths:
        out.print(f"wrote {path}", highlight=False, soft_wrap=True)
