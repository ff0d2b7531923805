"""Acceptance rows of docs/problems.md#noisy-quadratic-models, #reddi-counterexamples, #chen, end to
end through the api: the Reddi et al. counterexamples, Chen et al.'s finite sum (the MaxVA
protocol), the NQM learning-rate grid."""

from __future__ import annotations

import numpy as np
import pytest

from optlab import api
from optlab.config import RunConfig


def run(tmp_path, name, problem, optimizers, **kw):
    return api.run(
        RunConfig(problem=problem, optimizers=optimizers, out=str(tmp_path / name), **kw)
    )


def final_x(result, label_prefix):
    runs = result.runs[result.runs.label.str.startswith(label_prefix)]
    trace = result.trace
    last = trace[trace.step == trace.step.max()]
    return last[last.run_id.isin(runs.run_id)]["x_0"].to_numpy()


def test_reddi_online_adam_goes_to_plus_one_amsgrad_below_zero(tmp_path):
    """docs/problems.md#reddi-counterexamples, online row 0.5/sqrt(t), T = 1e6: Adam x_T = +1, R_T/T
    = 0.228; AMSGrad x_T = -0.9973, R_T/T = 0.034 (beta = (0.9, 0.99), eps = 1e-8, x_1 = 0)."""
    res = run(
        tmp_path,
        "o",
        "reddi_online",
        ("adam[b2=0.99]", "amsgrad[b2=0.99]"),
        hyper=(("learning_rate", (0.5,)),),
        schedule="inv_sqrt",
        steps=1_000_000,
    )
    (adam,), (ams,) = final_x(res, "adam"), final_x(res, "amsgrad")
    assert adam == pytest.approx(1.0, abs=1e-3)
    assert ams < 0 and ams == pytest.approx(-1.0, abs=1e-2)
    regret = res.runs.set_index("optimizer")["final_avg_regret"]
    assert regret["adam"] == pytest.approx(0.228, abs=0.005)
    assert regret["amsgrad"] == pytest.approx(0.034, abs=0.005)


def test_reddi_online_with_default_settings(tmp_path):
    """The issue's command: `optlab run reddi_online --opt adam --opt amsgrad --steps 1000000`."""
    res = run(tmp_path, "d", "reddi_online", ("adam", "amsgrad"), steps=1_000_000)
    (adam,), (ams,) = final_x(res, "adam"), final_x(res, "amsgrad")
    assert adam == pytest.approx(1.0, abs=1e-3) and ams < 0
    # a 1-D problem carries x_T into runs.csv and summary.csv (the table's x_T column)
    runs = res.runs.set_index("optimizer")
    assert runs.loc["adam", "final_x"] == adam and runs.loc["amsgrad", "final_x"] == ams
    assert res.summary.set_index("optimizer").loc["amsgrad", "final_x"] == ams


def test_reddi_stochastic_over_seeds(tmp_path):
    """Stochastic row (0.5/sqrt(t)), shortened to 2e5 steps and 8 seeds: Adam sits at +1 in
    every seed; AMSGrad drifts below 0 (median) with a much smaller average regret."""
    res = run(
        tmp_path,
        "s",
        "reddi_stochastic",
        ("adam[b2=0.99]", "amsgrad[b2=0.99]"),
        hyper=(("learning_rate", (0.5,)),),
        schedule="inv_sqrt",
        steps=200_000,
        seeds=8,
    )
    adam, ams = final_x(res, "adam"), final_x(res, "amsgrad")
    assert len(adam) == 8 and np.all(adam > 0.95)
    assert np.median(ams) < 0
    s = res.summary.set_index("optimizer")
    assert s.loc["adam", "final_avg_regret"] > 2 * s.loc["amsgrad", "final_avg_regret"]


def test_reddi_theorem_1(tmp_path):
    """Theorem 1 check (docs/problems.md#reddi-counterexamples): C = 3, no bias correction, eps = 0,
    x_1 = 1, alpha = sqrt(1 - b2)/2 with alpha/sqrt(t), 3e5 steps: Adam +1 (R/T = 0.667), AMSGrad ~
    -0.999."""
    b2 = 1 / (1 + 3**2)
    res = run(
        tmp_path,
        "t",
        "reddi_thm1",
        ("adam[bias_correction=false]", "amsgrad[amsgrad_variant=paper]"),
        hyper=(
            ("learning_rate", (0.5 * np.sqrt(1 - b2),)),
            ("b1", (0.0,)),
            ("b2", (b2,)),
            ("eps", (0.0,)),
        ),
        schedule="inv_sqrt",
        steps=300_000,
    )
    (adam,), (ams,) = final_x(res, "adam"), final_x(res, "amsgrad")
    assert adam == pytest.approx(1.0, abs=1e-6) and ams == pytest.approx(-1.0, abs=2e-3)
    regret = res.runs.set_index("optimizer")["final_avg_regret"]
    assert regret["adam"] == pytest.approx(2 / 3, abs=0.005) and regret["amsgrad"] < 0.01


CHEN = (
    "adam[learning_rate=0.8,b1=0,b2=0.9]",
    "amsgrad[learning_rate=0.8,b1=0,b2=0.9]",
    "amsgrad[learning_rate=1.2,b1=0,b2=0.9]",
    "madam[learning_rate=1.2,b1=0,b2_min=0.5,b2_max=1]",
)


def test_chen_success_rates_reduced_protocol(tmp_path):
    """MaxVA App. E (docs/problems.md#chen) with 24 seeds x 2e4 steps instead of 100 x 1e5:
    Adam never succeeds, AMSGrad succeeds at lr 0.8 and fails at 1.2, MAdam succeeds at 1.2."""
    res = run(tmp_path, "c", "chen", CHEN, seeds=24, steps=20_000, diagnostics=True)
    rate = res.summary["success_rate"].to_numpy()  # in the order of CHEN
    assert len(rate) == 4
    assert rate[0] == 0.0
    assert rate[1] >= 0.85
    assert rate[2] <= 0.15
    assert rate[3] >= 0.85
    assert {"S1", "S2"} <= set(res.trace.columns)


def test_nqm_learning_rate_grid_is_one_program(tmp_path):
    """MaxVA NQM (docs/problems.md#nqm): the 20-point learning-rate grid runs as one program per
    optimizer; both best mean final excess losses lie in [1e-3, 5e-3]."""
    lrs = tuple(float(v) for v in np.r_[np.arange(1, 10) * 1e-3, np.arange(1, 10) * 1e-2, 0.1, 0.2])
    res = run(
        tmp_path,
        "n",
        "nqm",
        ("adam[eps=1e-10]", "madam[b2_min=0.5,b2_max=0.99]"),
        hyper=(("learning_rate", lrs),),
        seeds=100,
        steps=1000,
    )
    assert [o["traced"] for o in res.manifest["optimizers"]] == [1, 1]
    best = res.summary.groupby("optimizer")["final_loss_mean"].min()
    assert 1e-3 <= best["adam"] <= 5e-3 and 1e-3 <= best["madam"] <= 5e-3
