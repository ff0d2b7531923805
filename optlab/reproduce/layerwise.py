"""Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training of
Deep Neural Networks" (arXiv:2203.13273): step-size statistics per layer (Figs. 1, 2, 6),
K = 2 against K = 1 and the four layerwise methods against AdaBelief, measured on optlab's
teacher-student MLP (each weight matrix and bias vector is a layer).

"Adam+" (the paper: AdaBelief with (m - g)^2 replaced by g^2, eps placed as in AdaBelief) is
optlab's ``adam[eps_mode=E5]``: eps added to the second-moment EMA every step, as
AdaBelief's s_t. AdaBelief also adds eps outside the root, which E5 does not; with
eps = 1e-8 against sqrt(v) >= 1e-4 here that changes a step size by under 1e-4 relative.
"""

from __future__ import annotations

import numpy as np

from optlab.config import RunConfig
from optlab.plots.style import log_scale
from optlab.reproduce import _plots
from optlab.reproduce._claim import Claim, Paper, Protocol, Row, at_most, below
from optlab.reproduce._run import label_of

LAYERWISE = Paper(
    "Zhang, Niwa, Kleijn",
    "On Exploiting Layerwise Gradient Statistics for Effective Training of Deep Neural Networks",
    "2203.13273",
)
MLP = "mlp[width=16,depth=3,batch=16,samples=512]"
QUICK_MLP = "mlp[width=8,depth=2,batch=16,samples=256]"  # 6 layers: a smaller program
ADAM_PLUS = "adam[eps_mode=E5]"
STATS = ("aida_k[k=1]", "aida_k[k=2]", "adabelief", ADAM_PLUS)  # Figs. 1, 2, 6; K = 1 vs 2
FOUR = ("ladam", "adaml", "ladabelief", "adabeliefl")  # Sec. V-C: against AdaBelief
NAMES = {"aida_k[k=1]": "Aida (K=1)", "aida_k[k=2]": "Aida (K=2)", ADAM_PLUS: "Adam+"}


def _config(opts, steps: int, seeds: int, diagnostics: bool, problem: str = MLP) -> RunConfig:
    return RunConfig(
        problem=problem,
        optimizers=opts,
        steps=steps,
        seeds=seeds,
        log_every=max(1, steps // 200),
        diagnostics=diagnostics,
        command=f"optlab run '{problem}' "
        + " ".join(f"--opt '{o}'" for o in opts)
        + f" --steps {steps} --seeds {seeds}"
        + (" --diagnostics" if diagnostics else ""),
    )


def layer_stats(result, spec: str) -> tuple[float, float]:
    """(mean over layers of the within-layer std of the step sizes, std over layers of
    log10 of the layer means), both averaged over the second half of the records and the
    seeds: the paper's 'layerwise standard deviation' and the (lack of) compactness of the
    'layerwise average stepsizes'."""
    t = result.trace
    label = label_of(result, spec)
    df = t[(t["label"] == label) & (t["step"] >= t["step"].max() / 2)]
    k = sorted(int(c.rsplit("_", 1)[1]) for c in t.columns if c.startswith("step_size_mean_"))
    means = np.stack([df[f"step_size_mean_{i}"].to_numpy(float) for i in k], axis=1)
    stds = np.stack([df[f"step_size_std_{i}"].to_numpy(float) for i in k], axis=1)
    within = float(np.mean(stds))
    spread = float(np.mean(np.std(np.log10(means), axis=1)))
    return within, spread


def final_loss(result, spec: str) -> float:
    runs = result.runs
    return float(np.median(runs.loc[runs.label == label_of(result, spec), "final_loss"]))


def judge(results, quick: bool) -> list[Row]:
    stats = {o: layer_stats(results["stepsizes"], o) for o in STATS}
    aida, belief, plus = stats["aida_k[k=1]"], stats["adabelief"], stats[ADAM_PLUS]
    loss = {o: final_loss(results["stepsizes"], o) for o in STATS}
    rows = [
        at_most(
            "within-layer std: Aida (K=1) / AdaBelief",
            aida[0] / belief[0],
            0.5,
            "'significantly smaller': at most half",
        ),
        at_most("within-layer std: Aida (K=1) / Adam+", aida[0] / plus[0], 0.5),
        below(
            "spread of log10 layer means: Aida (K=1)",
            aida[1],
            min(belief[1], plus[1]),
            "AdaBelief's and Adam+'s",
            "'much more compact' layer averages",
        ),
        below("within-layer std: AdaBelief", belief[0], plus[0], "Adam+'s"),
        below(
            "median final loss: Aida (K=2)",
            loss["aida_k[k=2]"],
            loss["aida_k[k=1]"],
            "Aida (K=1)'s",
            "K = 1 -> 2 converges faster",
        ),
    ]
    if "methods" not in results:  # the quick protocol leaves the four methods out
        return rows
    for o in FOUR:
        ratio = final_loss(results["methods"], o) / loss["adabelief"]
        rows.append(
            Row(
                f"median final loss: {o} / AdaBelief",
                ratio,
                "in [1/3, 3]",
                "-",
                bool(1 / 3 <= ratio <= 3),
                "'almost the same performance'",
            )
        )
    return rows


def draw(results):
    fig, axes = _plots.figure(3, "Layerwise step sizes on a teacher-student MLP")
    t = results["stepsizes"].trace
    k = sorted(int(c.rsplit("_", 1)[1]) for c in t.columns if c.startswith("step_size_mean_"))
    for ax, spec in zip(axes[:2], ("aida_k[k=1]", "adabelief"), strict=True):
        df = t[t["label"] == label_of(results["stepsizes"], spec)]
        df = df[df["seed"] == df["seed"].min()]
        for i in k:
            ax.plot(df["step"], df[f"step_size_mean_{i}"], lw=1)
        log_scale(ax, "y")
        ax.set_title(f"{NAMES.get(spec, spec)}: layer means of the step sizes", fontsize=8)
        ax.set_xlabel("step")
    _plots.median_curves(axes[2], results["stepsizes"].trace, "loss", logy=True, title="loss")
    return fig


LAYERS = Claim(
    id="layerwise-mlp",
    paper=LAYERWISE,
    where="Figs. 1, 2, 3, 6 and Sec. V (VGG11 / CIFAR10 there; an MLP here)",
    statement=(
        "The layerwise standard deviations of the elementwise step sizes of Aida are "
        "significantly smaller than those of AdaBelief and Adam+, and its layerwise average "
        "step sizes are much more compact; AdaBelief's standard deviations are slightly "
        "smaller than Adam+'s; increasing K from 1 to 2 makes Aida converge considerably "
        "faster; the four layerwise methods LAdam, AdamL, LAdaBelief, AdaBeliefL perform "
        "almost the same as AdaBelief."
    ),
    criterion=(
        "Our criteria on a tanh MLP student/teacher (inputs 4, three hidden layers of 16, "
        "8 leaves = layers, minibatches of 16 from 512 inputs), the paper's (beta1, beta2, "
        "eta, eps) = (0.9, 0.999, 1e-3, 1e-8), no weight decay, 4000 steps x 3 seeds (quick "
        "1500 x 2 on a width-8, depth-2 MLP, without the four layerwise methods). Step-size "
        "statistics averaged over the second half of the run: Aida "
        "(K=1)'s mean within-layer std at most half of AdaBelief's and of Adam+'s; the std "
        "over layers of log10(layer mean) of Aida below both; AdaBelief's within-layer std "
        "below Adam+'s. Median final loss: Aida (K=2) below Aida (K=1); each layerwise "
        "method within a factor 3 of AdaBelief. Adam+ = adam[eps_mode=E5] (module notes)."
    ),
    quantities=("within-layer step-size std", "layer-mean spread", "final loss"),
    full=Protocol(
        (
            ("stepsizes", _config(STATS, 4000, 3, diagnostics=True)),
            ("methods", _config(FOUR, 4000, 3, diagnostics=False)),
        ),
        seconds=28,
    ),
    quick=Protocol(
        (("stepsizes", _config(STATS, 1500, 2, diagnostics=True, problem=QUICK_MLP)),),
        seconds=15,
    ),
    judge=judge,
    draw=draw,
)

CLAIMS = [LAYERS]
