"""``optlab trajectory PROBLEM``: optimizer paths over a 2-D loss landscape (PNG, GIF)."""

from __future__ import annotations

from typing import Annotated

import typer

from optlab.cli._config import configurable
from optlab.cli._console import guarded
from optlab.cli._options import (
    Dtype,
    HpList,
    Json,
    Lr,
    Opts,
    Out,
    Overwrite,
    Steps,
    Values,
    shortcut_values,
)
from optlab.cli._plugins import PluginFiles, plugin_paths
from optlab.cli._tuned import Tuned
from optlab.cli.run import build_config, run_guarded
from optlab.config import TrajectoryConfig

HELP = """Run optimizers on a 2-D problem and draw their paths over the loss landscape.

Examples:

  optlab trajectory rosenbrock --opt adam --opt adamomentum --lr 0.1 --gif

  optlab trajectory 'quadratic[gamma=[1,10],x0=[1,1]]' --opt sgd --opt heavy_ball --lr 0.05
"""


@configurable
@guarded
def trajectory(
    problem: Annotated[str, typer.Argument(help="A 2-D problem id, e.g. rosenbrock, beale.")],
    opt: Opts = None,
    lr: Lr = None,
    b1: Values = None,
    b2: Values = None,
    eps: Values = None,
    mu: Values = None,
    p: Values = None,
    q: Values = None,
    hp: HpList = None,
    steps: Steps = TrajectoryConfig.steps,
    tuned: Tuned = None,
    log_every: Annotated[
        int | None, typer.Option(help="Record every N steps (default: steps / 500).")
    ] = None,
    seeds: Annotated[
        int, typer.Option(help="Number of seeds (the first is drawn).")
    ] = TrajectoryConfig.seeds,
    gif: Annotated[
        bool, typer.Option("--gif", help="Also write trajectory.gif.")
    ] = TrajectoryConfig.gif,
    frames: Annotated[int, typer.Option(help="GIF frames.")] = TrajectoryConfig.frames,
    resolution: Annotated[
        int, typer.Option(help="Mesh points per axis.")
    ] = TrajectoryConfig.resolution,
    loss_panel: Annotated[
        bool, typer.Option("--loss-panel", help="Draw f(x_t) - f* against t beside the paths.")
    ] = TrajectoryConfig.loss_panel,
    out_dir: Out = TrajectoryConfig.out,
    overwrite: Overwrite = TrajectoryConfig.overwrite,
    dtype: Dtype = TrajectoryConfig.dtype,
    json_out: Json = False,
    plugin: PluginFiles = None,
) -> None:
    base = build_config(
        problem,
        opt,
        shortcut_values(lr, b1, b2, eps, mu, p, q),
        hp,
        None,
        tuned,
        steps=steps,
        log_every=log_every,
        seeds=seeds,
        out=out_dir,
        overwrite=overwrite,
        dtype=dtype,
        record_x=True,
        plugins=plugin_paths(plugin),
    )
    every = log_every or max(1, base.steps // 500)  # of the tuned horizon with --tuned
    config = TrajectoryConfig(
        **{**base.to_dict(), "log_every": every, "gif": gif, "frames": frames},
        resolution=resolution,
        loss_panel=loss_panel,
    )
    run_guarded(config, "trajectory", json_out=json_out)
