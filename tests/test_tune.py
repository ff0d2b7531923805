"""`optlab tune`: equal budgets, an objective blind to x* and f*, held-out seeds, the files."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optlab import labels, registry, search_space, suites, tune
from optlab.cli import app
from optlab.errors import UsageError

cli = CliRunner()
SMALL = dict(budget=6, steps=60, log_every=10)


def run_tune(problems, optimizers, heldout=3, **kw):
    config = tune.TuneConfig(
        target="list", optimizers=tuple(optimizers), heldout_seeds=heldout, **{**SMALL, **kw}
    )
    objective = tune.parse_objective(config.objective)
    space = search_space.parse_space(config.space)
    plans = [
        tune.plan_optimizer(s, space, config.budget, config.sampler, config.sample_seed)
        for s in config.optimizers
    ]
    return tune.tune_problems(config, problems, plans, objective)


def test_every_optimizer_gets_exactly_the_same_number_of_configurations():
    opts = ["adam", "sgd", "aida_pq[p=1,q=1]"]
    result = run_tune(
        [registry.get_problem("rosenbrock"), registry.get_problem("quadratic")],
        opts,
        space=("adam:b1=0.5:0.99",),  # more dimensions for one, the same budget
    )
    counts = result.tune.groupby(["problem", "spec"]).size()
    assert set(counts) == {SMALL["budget"]} and len(counts) == 2 * len(opts)
    assert [o["configurations"] for o in result.manifest["optimizers"]] == [6, 6, 6]
    # one compiled program per problem x optimizer: configurations and seeds are vmapped
    traced = result.manifest["traced"]
    assert len(traced) == 6 and all(t["traced"] == 1 for t in traced)
    assert result.best.groupby("problem").size().tolist() == [3, 3]
    adam = result.tune[(result.tune.spec == "adam") & (result.tune.problem == "rosenbrock")]
    assert adam["hp_b1"].between(0.5, 0.99).all() and adam["hp_learning_rate"].nunique() == 6
    assert result.tune.groupby(["problem", "spec"])["chosen"].sum().eq(1).all()


@pytest.mark.parametrize("name", ["rosenbrock", pytest.param("nqm", marks=pytest.mark.slow)])
def test_tuning_is_invariant_to_x_star_and_f_star(name):
    """A problem whose x* and f* are removed tunes identically (the objective never reads
    them; nqm also has random starts, sampled gradients and held-out seeds)."""
    problem = registry.get_problem(name)
    blind = dataclasses.replace(problem, x_star=None, f_star=None, f_star_kind="none")
    a = run_tune([problem], ["adam", "sgd"], seeds=2, heldout=2)
    b = run_tune([blind], ["adam", "sgd"], seeds=2, heldout=2)
    cols = ["spec", "config", "label", "objective", "status", "rank", "chosen"]
    pd.testing.assert_frame_equal(a.tune[cols], b.tune[cols])
    pd.testing.assert_frame_equal(
        a.best[["label", "objective", "heldout_objective"]],
        b.best[["label", "objective", "heldout_objective"]],
    )
    assert np.isnan(b.best_trace["gap"]).all() and not np.isnan(a.best_trace["gap"]).all()


def test_heldout_seeds_are_disjoint_and_never_read_by_the_choice():
    nqm = registry.get_problem("nqm")
    result = run_tune([nqm], ["adam"], heldout=4, seeds=2)
    for _, row in result.best.iterrows():
        assert row.tune_seeds == "0,1" and row.heldout_seeds == "2-5"
        assert np.isfinite(row.heldout_objective)
    split = result.best_trace.groupby("split")["seed"].unique()
    assert set(split["tune"]).isdisjoint(split["heldout"])
    assert sorted(split["heldout"]) == [2, 3, 4, 5]
    without = run_tune([nqm], ["adam"], heldout=0, seeds=2)
    cols = ["label", "objective", "chosen"]
    pd.testing.assert_frame_equal(result.tune[cols], without.tune[cols])
    # a deterministic problem runs one seed, with nothing held out
    det = run_tune([registry.get_problem("rosenbrock")], ["adam"])
    assert det.best.loc[0, "tune_seeds"] == "0" and det.best.loc[0, "heldout_seeds"] == "none"


def test_objective_choice_ties_and_divergence():
    assert tune.choose(np.array([2.0, 1.0, 1.0, np.inf])) == 1  # tie: earliest drawn
    assert tune.choose(np.array([2.0, 1.0, 1.0]), np.array([0.0, 5.0, 4.0])) == 2
    assert tune.choose(np.array([1.0, 1.0]), np.array([3.0, 3.0])) == 0
    assert tune.choose(np.array([np.inf, np.inf])) is None
    ev = tune.Evaluation(
        steps=np.array([0, 5, 10]),
        loss=np.array([[[9.0, 4.0, 2.0], [9.0, 6.0, 4.0]], [[9.0, 1.0, np.nan], [9, 1, 1]]]),
        gap=np.zeros((2, 2, 3)),
        div=np.array([[-1, -1], [7, -1]]),
    )
    final = tune.objective_values(ev, [0, 1], tune.parse_objective("final"), 10)
    assert final[0] == 3.0 and final[1] == np.inf  # one diverged seed makes it +inf
    last = tune.objective_values(ev, [0, 1], tune.parse_objective("last:0.5"), 10)
    assert last[0] == pytest.approx((3 + 5) / 2)
    with pytest.raises(UsageError):
        tune.parse_objective("last:2")


def test_sobol_draws_are_seeded_rounded_and_labels_read_back():
    dims = search_space.dimensions_for("adam", search_space.parse_space(["b1=0.5:0.99"]), set())
    a = search_space.draw(dims, 8, "sobol", 3)
    assert np.array_equal(a, search_space.draw(dims, 8, "sobol", 3))
    assert not np.array_equal(a, search_space.draw(dims, 8, "sobol", 4))
    assert (a[:, 0] >= 1e-5).all() and (a[:, 0] <= 1).all()
    plan = tune.plan_optimizer("adam", search_space.parse_space([]), 8, "sobol", 0)
    for label, point in zip(plan.labels, plan.grid.points, strict=True):
        _, settings = labels.parse_spec(label)
        assert float(settings["learning_rate"][0]) == point[0]
    grid = search_space.draw(dims, 9, "grid", 0)
    assert len({tuple(r) for r in grid}) == 9 and grid[:, 0].min() == 1e-5
    with pytest.raises(UsageError):
        search_space.draw(dims, 8, "grid", 0)


def test_suites_and_targets():
    assert suites.get_suite("andrei").problems == tuple(f"fun{i}" for i in range(1, 11))
    assert "rosenbrock" in suites.get_suite("2d").problems
    assert "chen" in suites.get_suite("counterexamples").problems
    assert "nqm" in suites.get_suite("stochastic").problems
    target = suites.resolve_target("fun1,quadratic[gamma=[1,2]]")
    assert target == ("list", ("fun1", "quadratic[gamma=[1,2]]"))
    with pytest.raises(UsageError):
        suites.resolve_target("fun1,nonsense")


def test_a_suite_from_a_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("# my suite\nfun1, fun5  # two Andrei functions\n\nquadratic[gamma=[1,2]]\n")
    assert suites.resolve_target(str(path)) == ("mine", ("fun1", "fun5", "quadratic[gamma=[1,2]]"))
    path.write_text("fun1\nnosuch\n")
    with pytest.raises(UsageError):
        suites.resolve_target(str(path))


@pytest.fixture(scope="module")
def tuned_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("tune") / "t"
    args = ["tune", "quadratic,sphere", "--opt", "adam", "--opt", "sgd", "--budget", 4]
    res = cli.invoke(app, [str(a) for a in args + ["--steps", 40, "--out", out]])
    assert res.exit_code == 0, res.output
    return out, res


def test_cli_tune_writes_the_files_and_profile_reads_them(tuned_folder, tmp_path):
    out, res = tuned_folder
    for name in ("tune.csv", "best.csv", "best_trace.csv", "tuning.png", "manifest.json"):
        assert (out / name).is_file() and str(out / name) in res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["protocol"]["budget"] == 4 and manifest["protocol"]["steps"] == 40
    assert manifest["protocol"]["uses_x_star_or_f_star"] is False
    best = pd.read_csv(out / "best.csv")
    assert len(best) == 4 and best.label.str.startswith(("adam", "sgd")).all()
    prof = tmp_path / "p"
    res = cli.invoke(app, ["profile", str(out), "--out", str(prof)])
    assert res.exit_code == 0, res.output
    for name in ("performance_profiles", "data_profiles", "runtime_ecdf"):
        assert (prof / f"{name}.csv").is_file() and (prof / f"{name}.png").is_file()
    text = " ".join(res.output.split())
    assert "2 problems" in text and "Solvers: adam, sgd" in text


@pytest.mark.parametrize(
    "args",
    [
        ["fun5", "--opt", "sgd", "--space", "sgd:b1=0.1:0.9"],  # sgd has no b1
        ["fun5", "--opt", "adam", "--budget", "0"],
        ["fun5", "--opt", "adam", "--sampler", "grid", "--space", "b1=0.1:0.9", "--budget", "8"],
        ["nosuch", "--opt", "adam"],
        ["fun5", "--opt", "adam[learning_rate=[0.1,0.2]]"],
        ["fun5", "--opt", "adam", "--objective", "median"],
    ],
)
def test_cli_tune_bad_input_is_one_line_and_writes_nothing(tmp_path, args):
    out = tmp_path / "x"
    res = cli.invoke(app, ["tune", *args, "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "error:" in res.output and not out.exists()


def test_tuned_trajectory_and_suite_profile_use_the_chosen_settings(tuned_folder, tmp_path):
    out, _ = tuned_folder
    best = pd.read_csv(out / "best.csv")
    chosen = best[best.problem == "sphere"].set_index("spec")["label"]
    traj = tmp_path / "traj"
    res = cli.invoke(
        app, ["trajectory", "sphere", "--tuned", str(out / "best.csv"), "--out", str(traj)]
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((traj / "manifest.json").read_text())
    assert manifest["config"]["optimizers"] == [chosen["adam"], chosen["sgd"]]
    assert (
        manifest["steps"] == 40
        and "Tuned with equal budgets: 4 configurations" in manifest["protocol"]
    )
    res = cli.invoke(
        app, ["trajectory", "sphere", "--tuned", str(out / "best.csv"), "--steps", "50"]
    )
    assert res.exit_code == 2 and "tuned for 40 steps" in res.output
    res = cli.invoke(app, ["run", "quadratic[gamma=2]", "--tuned", str(out / "best.csv")])
    assert res.exit_code == 2 and "tuned with options" in res.output
    prof = tmp_path / "prof"
    args = ["profile", "--suite", "quadratic,sphere", "--tuned", str(out / "best.csv")]
    res = cli.invoke(app, [*args, "--out", str(prof)])
    assert res.exit_code == 0, res.output
    trace = pd.read_csv(prof / "trace.csv", keep_default_na=False)
    runs = trace[["problem", "solver", "label"]].drop_duplicates()
    for _, row in runs.iterrows():
        assert (
            row.label
            == best[(best.problem == row.problem) & (best.spec == row.solver)].label.item()
        )
    assert "at its tuned setting" in json.loads((prof / "manifest.json").read_text())["protocol"]


def test_profile_bad_input_is_one_line(tuned_folder, tmp_path):
    out, _ = tuned_folder
    cases = [
        ["profile", str(out), "--suite", "2d", "--opt", "adam"],  # both
        ["profile", "--suite", "2d"],  # no optimizers
        ["profile", "--suite", "2d", "--tuned", str(out / "best.csv")],  # problems not tuned
        ["profile", str(tmp_path / "missing")],
        ["profile", str(out), "--tolerances", "2"],
    ]
    for args in cases:
        res = cli.invoke(app, [*args, "--out", str(tmp_path / "p")])
        assert res.exit_code == 2 and "error:" in res.output, (args, res.output)
        assert not (tmp_path / "p").exists()


def test_untuned_runs_say_so_in_the_manifest(tmp_path):
    from optlab import api
    from optlab.config import RunConfig

    config = RunConfig(
        problem="quadratic", optimizers=("sgd",), steps=5, seeds=2, out=str(tmp_path)
    )
    result = api.run(config)
    assert (
        result.manifest["protocol"].startswith("Untuned")
        and "2 seeds" in result.manifest["protocol"]
    )


def test_trajectory_figure_marks_x0_x_star_final_points_and_can_add_a_loss_panel():
    from optlab.plots.trajectories import paths_figure

    steps = np.arange(4)
    trace = pd.DataFrame(
        {
            "label": np.repeat(["a", "b"], 4),
            "seed": 0,
            "step": np.tile(steps, 2),
            "x_0": [1, 0.5, 0.2, 0.1, 1, 0.8, 0.6, 0.4],
            "x_1": [1, 0.5, 0.2, 0.1, 1, 0.9, 0.7, 0.5],
            "loss": np.linspace(2, 0.1, 8),
            "gap": np.linspace(2, 0.1, 8),
        }
    )
    X, Y = np.meshgrid(np.linspace(-1, 2, 5), np.linspace(-1, 2, 5))
    land = {"X": X, "Y": Y, "Z": X**2 + Y**2, "box": (-1, 2, -1, 2), "x_star": np.zeros((1, 2))}
    fig = paths_figure(land, trace, "t")
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "$x_0$" in labels and "x*" in labels and "final point (each path)" in labels
    assert len(fig.axes) == 1 and len(paths_figure(land, trace, "t", loss_panel=True).axes) == 2


def test_an_optimizer_that_always_diverges_is_a_failure_not_a_gap(tmp_path):
    out = tmp_path / "t"
    args = ["tune", "fun5[dim=4]", "--opt", "adam", "--opt", "sgd", "--space", "sgd:lr=1e3:1e4"]
    res = cli.invoke(app, [*args, "--budget", "2", "--steps", "200", "--out", str(out)])
    assert res.exit_code == 0, res.output
    best = pd.read_csv(out / "best.csv", keep_default_na=False).set_index("spec")
    assert best.loc["sgd", "label"] == "" and best.loc["sgd", "status"].startswith("every")
    res = cli.invoke(app, ["profile", str(out), "--out", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    solved = pd.read_csv(tmp_path / "p" / "solved.csv")
    assert (solved[solved.solver == "sgd"].fraction_solved == 0).all()
    assert (solved[solved.solver == "adam"].fraction_solved[:1] == 1).all()


def test_the_winning_label_reruns_with_opt_to_its_objective():
    from optlab import api
    from optlab.config import RunConfig

    problem = registry.get_problem("rosenbrock")
    result = run_tune([problem], ["adam[b1=0.8]"], steps=80)
    best = result.best.iloc[0]
    assert best.label.startswith("adam[") and "b1=0.8" in best.label
    again = api.run(RunConfig(problem="rosenbrock", optimizers=(best.label,), steps=80))
    assert again.runs.final_loss.item() == pytest.approx(best.objective, rel=1e-12, abs=0)
