"""Performance, data and runtime-ECDF profiles against an independent computation on a
hand-made table of costs (ties, failures, a problem nobody solves, unequal seed counts)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from optlab import profiles

INF = math.inf
# problem -> seed -> solver -> cost (steps); "hard" is solved by nobody
COSTS = {
    "easy": {0: {"A": 10, "B": 10, "C": 40}},  # a tie for the best
    "mid": {
        0: {"A": 0, "B": 25, "C": INF},  # A meets the target at x0 (cost 0 -> 1)
        1: {"A": 100, "B": 50, "C": 400},
    },
    "hard": {0: {"A": INF, "B": INF, "C": INF}},
}
SOLVERS = ["A", "B", "C"]
BUDGET = 500


def table(target=1e-3) -> pd.DataFrame:
    rows = [
        {"problem": p, "seed": s, "solver": n, "target": target, "cost": float(c)}
        for p, seeds in COSTS.items()
        for s, by_solver in seeds.items()
        for n, c in by_solver.items()
    ]
    return pd.DataFrame(rows)


def instances():
    """(weight, {solver: cost}) with every problem weighing 1/3, shared by its seeds."""
    for seeds in COSTS.values():
        for by_solver in seeds.values():
            yield 1 / (len(COSTS) * len(seeds)), by_solver


def rho(solver: str, tau: float) -> float:
    total = 0.0
    for w, by in instances():
        best = min(max(c, 1) for c in by.values())
        mine = max(by[solver], 1)
        if mine < INF and best < INF and mine <= tau * best:
            total += w
    return total


def data(solver: str, alpha: float) -> float:
    return sum(w for w, by in instances() if by[solver] <= alpha)


def at(curve: pd.DataFrame, x_col: str, x: float) -> float:
    """A right-continuous step function's value at x."""
    below = curve[curve[x_col] <= x + 1e-12]
    return float(below["fraction"].iloc[-1]) if len(below) else 0.0


def test_performance_profile_matches_an_independent_count():
    perf = profiles.performance_profile(table())
    for solver in SOLVERS:
        curve = perf[perf.solver == solver].sort_values("tau")
        for tau in (1, 1.5, 2, 2.5, 4, 8, 100, 1e6):
            assert at(curve, "tau", tau) == pytest.approx(rho(solver, tau)), (solver, tau)
    # the tie on "easy" counts as a win for both A and B; "mid" seed 0: A (cost 0 -> 1)
    assert at(perf[perf.solver == "A"], "tau", 1) == pytest.approx(1 / 3 + 1 / 6)
    assert at(perf[perf.solver == "B"], "tau", 1) == pytest.approx(1 / 3 + 1 / 6)
    assert at(perf[perf.solver == "C"], "tau", 1) == 0


def test_data_profile_matches_an_independent_count():
    dp = profiles.data_profile(table(), BUDGET)
    for solver in SOLVERS:
        curve = dp[dp.solver == solver].sort_values("steps")
        for alpha in (0, 1, 9, 10, 24, 25, 40, 99, 100, 399, 400, BUDGET):
            assert at(curve, "steps", alpha) == pytest.approx(data(solver, alpha)), (solver, alpha)


def test_curves_are_non_decreasing_and_end_at_the_fraction_solved():
    solved = profiles.fraction_solved(table())
    expected = {s: sum(w for w, by in instances() if by[s] < INF) for s in SOLVERS}
    assert solved == pytest.approx(expected)
    assert expected["A"] == pytest.approx(2 / 3) and expected["C"] == pytest.approx(1 / 2)
    perf = profiles.performance_profile(table())
    dp = profiles.data_profile(table(), BUDGET)
    for curve, x in ((perf, "tau"), (dp, "steps")):
        for solver in SOLVERS:
            f = curve[curve.solver == solver].sort_values(x)["fraction"].to_numpy()
            assert np.all(np.diff(f) >= 0)
            assert f[-1] == pytest.approx(expected[solver])  # failures stay in the denominator
            assert f[-1] < 1  # nobody solves "hard"


def test_runtime_ecdf_counts_targets_and_keeps_dimensions_apart():
    t1, t2 = table(1e-1), table(1e-3)
    t1["cost"] = np.where(np.isfinite(t2["cost"]), t2["cost"] / 2, 200.0)  # easier target
    both = pd.concat([t1, t2], ignore_index=True)
    both["dim"] = np.where(both.problem == "easy", 2, 100)
    ecdf = profiles.runtime_ecdf(both, BUDGET)
    assert sorted(ecdf.dim.unique()) == [2, 100]
    for dim, probs in ((2, ["easy"]), (100, ["mid", "hard"])):
        for solver in SOLVERS:
            curve = ecdf[(ecdf.dim == dim) & (ecdf.solver == solver)].sort_values("steps")
            f = curve["fraction"].to_numpy()
            assert np.all(np.diff(f) >= 0)
            for budget in (0, 5, 12.5, 25, 50, 200, BUDGET):
                expect = 0.0
                for p in probs:
                    seeds = COSTS[p]
                    units = [(s, t) for s in seeds for t in (t1, t2)]
                    for s, t in units:
                        row = t[(t.problem == p) & (t.seed == s) & (t.solver == solver)]
                        if row["cost"].iloc[0] <= budget:
                            expect += 1 / (len(probs) * len(units))
                assert at(curve, "steps", budget) == pytest.approx(expect), (dim, solver, budget)


def test_costs_from_a_trace_first_recorded_hit_reference_and_divergence():
    steps = np.array([0, 10, 20, 30])
    rows = []

    def run(problem, solver, loss, gap_known, dim=2):
        for st, f in zip(steps, loss, strict=True):
            rows.append(
                {
                    "problem": problem,
                    "solver": solver,
                    "seed": 0,
                    "step": st,
                    "loss": f,
                    "gap": f - 1.0 if gap_known else np.nan,
                    "dim": dim,
                }
            )

    run("known", "A", [101.0, 11.0, 1.5, 1.05], True)  # f* = 1: rel 1, 0.1, 0.005, 0.0005
    run("known", "B", [101.0, 50.0, np.nan, np.nan], True)  # diverged after step 10
    run("unknown", "A", [10.0, 5.0, 1.5, 4.0], False)  # best found over all runs: 1.0 (B)
    run("unknown", "B", [10.0, 9.0, 1.0, 1.0], False)
    trace = pd.DataFrame(rows)
    refs = profiles.reference_values(trace).set_index("problem")
    assert (
        refs.loc["known", "f_ref"] == pytest.approx(1.0) and refs.loc["known", "ref_kind"] == "f*"
    )
    assert refs.loc["unknown", "f_ref"] == 1.0 and refs.loc["unknown", "ref_kind"] == "best found"
    costs = profiles.cost_table(trace, [1e-1, 1e-2, 1e-3]).set_index(
        ["problem", "solver", "target"]
    )
    c = costs["cost"]
    assert c[("known", "A", 1e-1)] == 10 and c[("known", "A", 1e-2)] == 20
    assert c[("known", "A", 1e-3)] == 30
    assert np.isinf(c[("known", "B", 1e-1)])  # never reached before diverging
    # unknown: rel = (f - 1) / 9; A reaches 0.056 at step 20, never 1e-2; B reaches 0 at 20
    assert c[("unknown", "A", 1e-1)] == 20 and np.isinf(c[("unknown", "A", 1e-2)])
    assert c[("unknown", "B", 1e-3)] == 20
    assert set(costs["dim"]) == {2}


def _write_run(folder, rows, steps, dim=2, protocol=None):
    import json

    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "trace.csv", index=False)
    manifest = {"steps": steps, "problem": {"dim": dim}}
    if protocol:
        manifest["protocol"] = protocol
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _rows(problem, optimizer, label, losses, seed=0):
    return [
        {
            "problem": problem,
            "optimizer": optimizer,
            "label": label,
            "seed": seed,
            "step": 10 * k,
            "loss": f,
            "gap": f,
        }
        for k, f in enumerate(losses)
    ]


def test_run_folders_become_one_table_of_solvers(tmp_path):
    from optlab import compare
    from optlab.errors import UsageError

    a, b = tmp_path / "a", tmp_path / "b"
    _write_run(
        a, _rows("p1", "adam", "adam", [1, 0.1, 0.01]) + _rows("p1", "sgd", "sgd", [1, 1, 0.5]), 20
    )
    _write_run(b, _rows("p2", "adam", "adam", [4, 1, 0]) + _rows("p2", "sgd", "sgd", [4, 4, 4]), 20)
    ev = compare.load_results([a, b])
    assert ev.budget == 20 and sorted(ev.trace.solver.unique()) == ["adam", "sgd"]
    assert ev.protocol.startswith("Untuned")
    costs, perf, data, ecdf, solved, refs = compare.profile(ev, (1e-1,))
    frac = solved.set_index("solver")["fraction_solved"]
    assert frac["adam"] == 1.0 and frac["sgd"] == 0.0  # sgd: 0.5 then 1 (p2) are above 0.1
    # two labels of one optimizer on a problem: solvers are labels
    c = tmp_path / "c"
    grid = _rows("p1", "adam", "adam[learning_rate=0.1]", [1, 0.5, 0.2]) + _rows(
        "p1", "adam", "adam[learning_rate=1]", [1, 0.05, 0.01]
    )
    _write_run(c, grid, 20)
    assert sorted(compare.load_results([c]).trace.solver.unique()) == sorted(
        ["adam[learning_rate=0.1]", "adam[learning_rate=1]"]
    )
    d = tmp_path / "d"  # another horizon
    _write_run(d, _rows("p3", "adam", "adam", [1, 0.5]) + _rows("p3", "sgd", "sgd", [1, 1]), 10)
    with pytest.raises(UsageError, match="different horizons"):
        compare.load_results([a, d])
    with pytest.raises(UsageError, match="two result folders"):
        compare.load_results([a, a])
    e = tmp_path / "e"  # sgd missing on p4
    _write_run(e, _rows("p4", "adam", "adam", [1, 0.5, 0.1]), 20)
    with pytest.raises(UsageError, match="no runs of sgd"):
        compare.load_results([a, e])
