"""AdamAL ("A New Perspective in Understanding of Adam-Type Algorithms and Beyond",
anonymous ICLR submission, no arXiv id): its claim that AdamAL mitigates Adam's
non-convergence, tested on Reddi et al.'s online and stochastic problems."""

from __future__ import annotations

import numpy as np

from optlab.reproduce import _plots
from optlab.reproduce._claim import Claim, Paper, at_least, at_most, below
from optlab.reproduce.reddi import avg_regret, final_x, protocols

ADAMAL = Paper(
    "anonymous authors",
    "A New Perspective in Understanding of Adam-Type Algorithms and Beyond",
    "",
    "ICLR submission (OpenReview), no arXiv version",
)
PAIR = ("adam[b2=0.99]", "adamal[b2=0.99]")
FULL, QUICK = protocols(PAIR, full_seconds=5, quick_seconds=2)


def judge(results, quick: bool):
    online, stoch = results["online"], results["stochastic"]
    (adam,), (al,) = final_x(online, "adam"), final_x(online, "adamal")
    return [
        at_least("online: Adam x_T (Adam fails)", adam, 0.999),
        at_most("online: AdamAL x_T", al, -0.9, "near the optimum x* = -1"),
        below(
            "online: AdamAL R_T/T",
            avg_regret(online, "adamal"),
            avg_regret(online, "adam"),
            "Adam's",
        ),
        at_least(
            "stochastic: median Adam x_T (Adam fails)", np.median(final_x(stoch, "adam")), 0.95
        ),
        at_most(
            "stochastic: median AdamAL x_T",
            np.median(final_x(stoch, "adamal")),
            0.0,
            "moving to x* = -1",
        ),
    ]


def draw(results):
    fig, axes = _plots.figure(2, "AdamAL vs Adam on Reddi et al.'s problems")
    _plots.median_curves(axes[0], results["online"].trace, "x_0", logx=True, title="online x_t")
    _plots.median_curves(
        axes[1], results["stochastic"].trace, "x_0", logx=True, title="stochastic x_t (median)"
    )
    return fig


REDDI = Claim(
    id="adamal-reddi",
    paper=ADAMAL,
    where="Sec. 4 (non-convergence of Adam) and Algorithm 1",
    statement=(
        "AdamAL, whose regularization budget never decreases, can naturally mitigate the "
        "non-convergence issue of Adam."
    ),
    criterion=(
        "The paper runs no synthetic test (our criterion): Reddi et al.'s problems with "
        "beta = (0.9, 0.99), alpha_t = 0.5/sqrt(t), x_1 = 0 (as reddi-fig1). Online, T = 1e6 "
        "(quick 100090): Adam x_T >= 0.999 while AdamAL x_T <= -0.9 and AdamAL's R_T/T below "
        "Adam's; stochastic, 8 seeds x 1e6 steps (quick 4 x 3e4): Adam's median x_T >= 0.95, "
        "AdamAL's <= 0."
    ),
    quantities=("x_T", "R_T/T"),
    full=FULL,
    quick=QUICK,
    judge=judge,
    draw=draw,
)

CLAIMS = [REDDI]
