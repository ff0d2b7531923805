"""Reddi, Kale, Kumar, "On the Convergence of Adam and Beyond" (ICLR 2018), Fig. 1: the
synthetic online and stochastic problems on [-1, 1] where Adam goes to the worst point."""

from __future__ import annotations

import numpy as np

from optlab.config import RunConfig
from optlab.reproduce import _plots
from optlab.reproduce._claim import Claim, Paper, Protocol, at_least, at_most, near

REDDI = Paper(
    "Reddi, Kale, Kumar", "On the Convergence of Adam and Beyond", "1904.09237", "ICLR 2018"
)
PAIR = ("adam[b2=0.99]", "amsgrad[b2=0.99]")  # the paper's beta = (0.9, 0.99) for both
LR = (("learning_rate", (0.5,)),)
# T = 1e6 ends a step before a 1010x step (1e6 = 100 mod 101); the quick horizon keeps that phase
QUICK_ONLINE_STEPS = 101 * 990 + 100  # alpha_t = 0.5 / sqrt(t): the paper gives no alpha (lab)


def run_config(problem: str, steps: int, seeds: int = 1, pair=PAIR) -> RunConfig:
    """``pair`` on one of Reddi et al.'s problems, alpha_t = 0.5 / sqrt(t)."""
    opts = " ".join(f"--opt '{spec}'" for spec in pair)
    return RunConfig(
        problem=problem,
        optimizers=pair,
        hyper=LR,
        schedule="inv_sqrt",
        steps=steps,
        seeds=seeds,
        command=f"optlab run {problem} {opts} "
        f"--lr 0.5 --schedule inv_sqrt --steps {steps} --seeds {seeds}",
    )


def protocols(pair, full_seconds: float, quick_seconds: float) -> tuple[Protocol, Protocol]:
    """(full, quick): ``pair`` on the online problem (T = 1e6; quick T = QUICK_ONLINE_STEPS)
    and the stochastic one (8 seeds x 1e6 steps; quick 4 x 3e4)."""

    def both(online_steps: int, steps: int, seeds: int, seconds: float) -> Protocol:
        online = run_config("reddi_online", online_steps, pair=pair)
        stochastic = run_config("reddi_stochastic", steps, seeds, pair)
        return Protocol((("online", online), ("stochastic", stochastic)), seconds=seconds)

    return (
        both(1_000_000, 1_000_000, 8, full_seconds),
        both(QUICK_ONLINE_STEPS, 30_000, 4, quick_seconds),
    )


FULL, QUICK = protocols(PAIR, full_seconds=8, quick_seconds=4)


def final_x(result, optimizer: str) -> np.ndarray:
    runs = result.runs
    return runs.loc[runs.optimizer == optimizer, "final_x"].to_numpy(dtype=float)


def avg_regret(result, optimizer: str) -> float:
    runs = result.runs
    return float(np.median(runs.loc[runs.optimizer == optimizer, "final_avg_regret"]))


def judge(results, quick: bool):
    online, stoch = results["online"], results["stochastic"]
    (adam,), (ams,) = final_x(online, "adam"), final_x(online, "amsgrad")
    ams_tol = 0.1 if quick else 1e-2  # AMSGrad is still moving at the quick horizon
    s_adam, s_ams = final_x(stoch, "adam"), final_x(stoch, "amsgrad")
    return [
        near("online: Adam x_T", adam, 1.0, 1e-3),
        near("online: AMSGrad x_T", ams, -1.0, ams_tol),
        at_most(
            "online: AMSGrad R_T/T - Adam R_T/T",
            avg_regret(online, "amsgrad") - avg_regret(online, "adam"),
            -0.1,
            "AMSGrad's average regret well below Adam's",
        ),
        at_least("stochastic: median over seeds of Adam x_T", np.median(s_adam), 0.95),
        at_most("stochastic: median over seeds of AMSGrad x_T", np.median(s_ams), 0.0),
    ]


def draw(results):
    fig, axes = _plots.figure(3, "Reddi et al. Fig. 1: Adam vs AMSGrad on [-1, 1]")
    _plots.median_curves(axes[0], results["online"].trace, "x_0", logx=True, title="online x_t")
    _plots.median_curves(
        axes[1], results["online"].trace, "avg_regret", logx=True, title="online R_t / t"
    )
    _plots.median_curves(
        axes[2], results["stochastic"].trace, "x_0", logx=True, title="stochastic x_t (median)"
    )
    return fig


FIG1 = Claim(
    id="reddi-fig1",
    paper=REDDI,
    where="Fig. 1 (synthetic experiments, Sec. 5)",
    statement=(
        "On f_t(x) = 1010x every 101st step and -10x otherwise (online), or 1010x with "
        "probability 0.01 and -10x otherwise (stochastic), over [-1, 1], Adam converges to the "
        "highly suboptimal solution x = +1 while AMSGrad converges to the optimum x = -1."
    ),
    criterion=(
        "beta = (0.9, 0.99) for both, alpha_t = 0.5/sqrt(t) (the paper gives no alpha: lab "
        "choice), x_1 = 0. Online, T = 1e6: Adam x_T = +1 within 1e-3, AMSGrad x_T = -1 within "
        "1e-2 (quick, T = 100090, the same phase of the 101-step period: within 0.1), AMSGrad's "
        "R_T/T at least 0.1 below Adam's. Stochastic, 8 seeds x 1e6 steps (quick 4 x 3e4): "
        "Adam's median x_T >= 0.95, "
        "AMSGrad's median x_T <= 0 (it drifts to -1 slowly and noisily)."
    ),
    quantities=("x_T", "R_T/T"),
    full=FULL,
    quick=QUICK,
    judge=judge,
    draw=draw,
)

CLAIMS = [FIG1]
