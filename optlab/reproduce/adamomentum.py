"""AdaMomentum (Wang et al., "Adapting Stepsizes by Momentumized Gradients Improves
Optimization and Generalization", arXiv:2106.11514): the 2-D toy examples of Sec. 5.1.1 /
Fig. 2 with the settings of its App. A."""

from __future__ import annotations

import numpy as np

from optlab.config import RunConfig
from optlab.metrics import steps_column
from optlab.reproduce import _plots
from optlab.reproduce._claim import Claim, Paper, Protocol, Row

ADAMOMENTUM = Paper(
    "Wang et al.",
    "Adapting Stepsizes by Momentumized Gradients Improves Optimization and Generalization",
    "2106.11514",
)
# App. A: lr 0.1 for the adaptive methods; SGDM (momentum 0.9) tuned per function
SGDM_LR = {"sphere": 0.1, "three_hump_camel": 0.001, "beale": 0.1, "ackley": 0.1}
ADAPTIVE = ("adamomentum", "adam", "adabelief", "rmsprop")
TOL = 1e-2  # distance to x* that counts as "reached the optimum" (a rung of the ladder)


def _config(problem: str, steps: int) -> RunConfig:
    opts = tuple(f"{o}[learning_rate=0.1]" for o in ADAPTIVE) + (
        f"heavy_ball[learning_rate={SGDM_LR[problem]},momentum=0.9]",
    )
    return RunConfig(
        problem=problem,
        optimizers=opts,
        steps=steps,
        log_every=1,
        command=f"optlab trajectory {problem} "
        + " ".join(f"--opt '{o}'" for o in opts)
        + f" --steps {steps} --log-every 1",
    )


def _steps_to_tol(result) -> dict[str, float]:
    col = steps_column("dist", TOL)
    runs = result.runs.set_index("optimizer")
    return {o: float(runs.loc[o, col]) for o in runs.index}


def judge(results, quick: bool):
    rows = []
    for name, res in results.items():
        steps = _steps_to_tol(res)
        mine = steps.pop("adamomentum")
        others = {o: (np.inf if np.isnan(s) else s) for o, s in steps.items()}
        best = min(others, key=others.get)
        ok = bool(np.isfinite(mine) and mine < others[best])
        rows.append(
            Row(
                f"{name}: AdaMomentum steps to dist <= {TOL:g}",
                mine,
                f"< fastest other: {best} ({others[best]:g})",
                "-",
                ok,
                "AdaMomentum never got within the tolerance" if np.isnan(mine) else "",
            )
        )
    return rows


def draw(results):
    fig, axes = _plots.figure(len(results), "AdaMomentum Fig. 2: distance to x* on 2-D toys")
    for ax, (name, res) in zip(axes, results.items(), strict=True):
        _plots.median_curves(ax, res.trace, "dist", logx=True, logy=True, title=name)
    return fig


TOYS = Claim(
    id="adamomentum-toys",
    paper=ADAMOMENTUM,
    where="Sec. 5.1.1, Fig. 2 and App. A",
    statement=(
        "AdaMomentum reaches the optimal point the fastest in all the cases (Sphere, Three-Hump "
        "Camel, Beale, Ackley) against SGDM, RMSprop, Adam and AdaBelief, and converges stably "
        "to the optimum without big oscillations."
    ),
    criterion=(
        "App. A settings: learning rate 0.1 for AdaMomentum, Adam, RMSprop (and AdaBelief, not "
        "named there); SGDM with momentum 0.9 and lr 0.1, 0.001, 0.1, 0.1. Starts and step "
        "counts are not given (lab: each problem's default start, 1000 steps; quick 300). "
        "'Fastest' = AdaMomentum's first step within distance 1e-2 of x* is strictly smaller "
        "than every other method's (never = infinitely slow). The stability half of the "
        "sentence is not tested."
    ),
    quantities=("steps to dist <= 1e-2",),
    full=Protocol(tuple((p, _config(p, 1000)) for p in SGDM_LR), seconds=7),
    quick=Protocol(tuple((p, _config(p, 300)) for p in SGDM_LR), seconds=7),
    judge=judge,
    draw=draw,
)

CLAIMS = [TOYS]
