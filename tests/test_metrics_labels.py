"""Steps-to-tolerance columns, labels that name what differs, and per-decade ranges."""

from __future__ import annotations

import numpy as np
import pytest

from optlab import api
from optlab.errors import UsageError
from optlab.io import frames
from optlab.labels import command_labels, parse_spec, parse_values
from optlab.metrics import TOLERANCES, first_step_below, steps_column


def test_first_step_below_takes_the_first_record_and_never_counts_nan():
    steps = np.array([0, 10, 20, 30])
    values = np.array(
        [[1.0, 0.5, 0.01, 0.001], [1.0, np.nan, np.nan, np.nan], [1.0, 1e-3, 1.0, 1e-9]]
    )
    out = first_step_below(steps, values, 1e-2)
    assert out[0] == 20 and np.isnan(out[1]) and out[2] == 10


def test_ladder_column_names():
    assert TOLERANCES[0] == 0.1 and TOLERANCES[-1] == pytest.approx(1e-8)
    assert steps_column("gap", 1e-3) == "steps_gap_1e-3"
    assert float(steps_column("dist", 1e-8).split("_")[-1]) == 1e-8


def _frames(gap, dist):
    metas = [frames.RunMeta("adam", "adam", i, i) for i in range(len(gap))]
    steps = np.array([0, 5, 10])
    gap = np.asarray(gap, float)
    metrics = {"loss": gap, "gap": gap, "grad_norm": gap, "dist": np.asarray(dist, float)}
    trace = frames.trace_frame("p", metas, steps, metrics, np.full(len(gap), -1))
    runs = frames.runs_frame(trace, np.full(len(gap), -1), 10)
    return runs, frames.summary_frame(runs)


def test_runs_and_summary_carry_steps_to_tolerance_with_spread():
    gap = [[1.0, 0.05, 1e-4], [1.0, 1.0, 0.05]]
    runs, summary = _frames(gap, np.full((2, 3), np.nan))
    assert runs["steps_gap_1e-1"].tolist() == [5, 10]
    assert runs["steps_gap_1e-4"].iloc[0] == 10 and np.isnan(runs["steps_gap_1e-4"].iloc[1])
    assert not any(c.startswith("steps_dist") for c in runs.columns)  # x* unknown: no columns
    row = summary.iloc[0]
    assert row["steps_gap_1e-1"] == 7.5 and row["steps_gap_1e-1_reached"] == 1.0
    assert row["steps_gap_1e-4"] == 10 and row["steps_gap_1e-4_reached"] == 0.5
    assert np.isnan(row["steps_gap_1e-8"]) and row["steps_gap_1e-8_reached"] == 0.0


def test_per_decade_range_gives_maxva_learning_rates():
    lrs = parse_values("1e-3:0.2:9:dec", "--lr")
    expected = [k * 1e-3 for k in range(1, 10)] + [k * 1e-2 for k in range(1, 10)] + [0.1, 0.2]
    assert len(lrs) == 20 and lrs == [float(f"{v:.12g}") for v in expected]
    assert parse_values("1:3:3:lin", "x") == [1.0, 2.0, 3.0]
    assert parse_values("1e-4:1e-2:3:log", "x") == parse_values("1e-4:1e-2:3", "x")


@pytest.mark.parametrize("text", ["0:1:3:dec", "1:2:3:cubic", "1:2", "1:2:3:dec:x", "1:0.5:3:dec"])
def test_bad_ranges_are_refused(text):
    with pytest.raises(UsageError):
        parse_values(text, "--lr")


def test_command_labels_name_what_differs_defaults_included():
    runs = [
        ("aida_pq", {"p": 1.0, "q": 2.0}, set()),
        ("aida_pq", {"p": 2.0, "q": 2.0}, {"p", "q"}),
        ("adam", {"b1": 0.9}, set()),
    ]
    assert command_labels(runs) == ["aida_pq[p=1,q=2]", "aida_pq[p=2,q=2]", "adam"]


def test_labels_across_opts_of_one_optimizer_rerun_the_same_point():
    plans = api.relabel([api.plan_optimizer(s, {}) for s in ("aida_pq", "aida_pq[p=2]")])
    labels = [lab for p in plans for lab in p.labels]
    assert labels == ["aida_pq[p=1]", "aida_pq[p=2]"]
    grid = api.plan_optimizer("aida_pq[p=[1,2],q=2]", {})
    assert grid.labels == ("aida_pq[p=1,q=2]", "aida_pq[p=2,q=2]")
    for label, point in zip(grid.labels, grid.grid.points, strict=True):
        again = api.plan_optimizer(label, {})
        assert again.grid.points == (point,) and parse_spec(label)[0] == "aida_pq"
