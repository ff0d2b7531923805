"""`optlab run | list | info` through typer's CliRunner, and the api behind them."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optlab import api
from optlab.cli import app
from optlab.config import RunConfig

cli = CliRunner()


def invoke(*args):
    return cli.invoke(app, [str(a) for a in args])


def read(out, name="trace"):
    return pd.read_csv(out / f"{name}.csv")


def test_main_command_on_defaults(tmp_path):
    """The README's command: 10^4 steps of aida_pq (1, 2) on fun5, four files, a table."""
    out = tmp_path / "main"
    res = invoke("run", "fun5", "--p", 1, "--q", 2, "--out", out)
    assert res.exit_code == 0, res.output
    for name in ("trace.csv", "runs.csv", "convergence.png", "manifest.json"):
        assert (out / name).is_file() and str(out / name) in res.output
    trace = read(out)
    first = trace[trace.step == 0].iloc[0]
    assert first.loss == pytest.approx(5049, rel=1e-12)
    assert first.grad_norm == pytest.approx(1197.585905, rel=1e-9)
    assert trace.step.max() == 10_000 and trace.label.unique().tolist() == [
        "aida_pq[p=1,q=2]"
    ]  # the values asked for are named
    runs = read(out, "runs")
    assert runs.loc[0, "final_grad_norm"] < 1e-6 < 1197  # it converges on fun5
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["x64"] is True and manifest["steps"] == 10_000
    assert manifest["optimizers"][0]["defaults"]["eps"] == 1e-50
    assert "aida_pq" in res.output


def test_trace_schema(tmp_path):
    out = tmp_path / "s"
    res = invoke(
        "run",
        "fun3",
        "--opt",
        "adam",
        "--opt",
        "sgd",
        "--steps",
        30,
        "--out",
        out,
        "--record-x",
        "--dim",
        4,
    )
    assert res.exit_code == 0, res.output
    trace = read(out)
    head = [
        "problem",
        "optimizer",
        "label",
        "run_id",
        "seed",
        "step",
        "loss",
        "gap",
        "grad_norm",
        "dist",
        "diverged",
    ]
    assert list(trace.columns[: len(head)]) == head
    assert {"hp_learning_rate", "hp_b1", "hp_eps"} <= set(trace.columns)
    assert trace[trace.optimizer == "sgd"]["hp_b1"].isna().all()
    assert [c for c in trace.columns if c.startswith("x_")] == ["x_0", "x_1", "x_2", "x_3"]
    runs = read(out, "runs")
    for col in (
        "final_loss",
        "best_loss",
        "final_gap",
        "final_grad_norm",
        "min_grad_norm",
        "final_dist",
        "diverged",
        "diverged_step",
        "steps",
    ):
        assert col in runs.columns


def test_same_command_twice_gives_identical_csv(tmp_path):
    args = ["run", "fun2", "--opt", "adam", "--lr", "1e-2,1e-3", "--steps", 300, "--seeds", 2]
    a, b = tmp_path / "a", tmp_path / "b"
    assert invoke(*args, "--out", a).exit_code == 0
    assert invoke(*args, "--out", b).exit_code == 0
    for name in ("trace.csv", "runs.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_label_syntax_reruns_a_row(tmp_path):
    res = invoke(
        "run",
        "fun5",
        "--opt",
        "adam[learning_rate=[0.01,0.1],b1=0]",
        "--steps",
        200,
        "--out",
        tmp_path / "grid",
    )
    assert res.exit_code == 0, res.output
    runs = read(tmp_path / "grid", "runs")
    assert runs.label.tolist() == ["adam[learning_rate=0.01,b1=0]", "adam[learning_rate=0.1,b1=0]"]
    label = runs.label[1]
    res = invoke("run", "fun5", "--opt", label, "--steps", 200, "--out", tmp_path / "again")
    assert res.exit_code == 0, res.output
    again = read(tmp_path / "again", "runs")
    assert again.label.tolist() == [label]
    assert again.final_loss[0] == runs.final_loss[1]


def test_pq_grid_equals_separate_runs_with_one_program_per_integer_pair(tmp_path):
    grid = api.run(
        RunConfig(
            problem="fun5",
            hyper=(("p", (1.0, 2.0)), ("q", (1.0, 2.0))),
            steps=400,
            out=str(tmp_path / "g"),
        )
    )
    assert grid.manifest["optimizers"][0]["traced"] == 4  # one program per integer pair
    assert len(grid.runs) == 4
    for k, (p, q) in enumerate([(1, 1), (1, 2), (2, 1), (2, 2)]):
        one = api.run(
            RunConfig(
                problem="fun5",
                hyper=(("p", (float(p),)), ("q", (float(q),))),
                steps=400,
                out=str(tmp_path / f"one{k}"),
            )
        )
        row = grid.runs[(grid.runs.hp_p == p) & (grid.runs.hp_q == q)].iloc[0]
        assert row.final_grad_norm == pytest.approx(one.runs.final_grad_norm[0], rel=1e-13, abs=0)
        assert row.final_loss == pytest.approx(one.runs.final_loss[0], rel=1e-13, abs=0)


def test_non_integer_exponents_share_one_traced_program(tmp_path):
    res = api.run(
        RunConfig(
            problem="fun5",
            hyper=(("p", (1.25, 1.5)), ("q", (2.5, 3.5))),
            steps=50,
            out=str(tmp_path / "g"),
        )
    )
    assert res.manifest["optimizers"][0]["traced"] == 1 and len(res.runs) == 4


def test_lr_grid_is_compiled_exactly_once(tmp_path):
    res = api.run(
        RunConfig(
            problem="fun5",
            hyper=(("learning_rate", (1e-4, 1e-3, 1e-2)),),
            steps=100,
            out=str(tmp_path / "lr"),
        )
    )
    assert res.manifest["optimizers"][0]["traced"] == 1


def test_divergence_is_a_result(tmp_path):
    out = tmp_path / "div"
    res = invoke("run", "fun5", "--opt", "sgd", "--lr", 1, "--steps", 500, "--out", out)
    assert res.exit_code == 0, res.output
    runs = read(out, "runs")
    assert bool(runs.diverged[0]) and 0 < runs.diverged_step[0] < 500
    trace = read(out)
    assert trace[trace.diverged].step.min() == runs.diverged_step[0]
    assert "1/1 at" in res.output


BAD = [
    (["fun55"], "did you mean 'fun5'"),
    (["fun5", "--opt", "adamm"], "did you mean 'adam'"),
    (["fun5", "--opt", "aida"], "aida_k"),
    (["fun5", "--p", "0.5"], "p=0.5 is outside"),
    (["fun5", "--q", "0"], "q=0 is outside"),
    (["fun5", "--lr", "-1e-3"], "learning_rate=-0.001 is outside"),
    (["fun5", "--opt", "sgd", "--b1", "0.9"], "sgd has no hyperparameter 'b1'"),
    (["fun5", "--opt", "adam[momentum=0.9]"], "adam has no hyperparameter or option 'momentum'"),
    (["fun5", "--hp", "bogus=1"], "no hyperparameter 'bogus'"),
    (["fun1", "--dim", "7"], "even"),
    (["fun5", "--dtype", "float32"], "cannot be represented in float32"),
    (["fun5", "--opt", "aida_pq[form=c]"], "form must be one of a, b"),
    (["fun5", "--lr", "abc"], "not a number"),
    (["fun5", "--steps", "0"], "--steps"),
]


@pytest.mark.parametrize("args,message", BAD)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "never"
    res = invoke("run", *args, "--out", out)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_non_empty_out_is_refused_without_overwrite(tmp_path):
    out = tmp_path / "keep"
    assert invoke("run", "fun5", "--steps", 50, "--out", out).exit_code == 0
    before = (out / "trace.csv").read_bytes()
    res = invoke("run", "fun5", "--steps", 60, "--out", out)
    assert res.exit_code == 2 and "--overwrite" in res.output
    assert (out / "trace.csv").read_bytes() == before
    assert invoke("run", "fun5", "--steps", 60, "--out", out, "--overwrite").exit_code == 0
    assert read(out).step.max() == 60


def test_float32_when_representable(tmp_path):
    out = tmp_path / "f32"
    res = invoke("run", "fun5", "--dtype", "float32", "--eps", "1e-8", "--steps", 100, "--out", out)
    assert res.exit_code == 0, res.output
    f64 = invoke("run", "fun5", "--eps", "1e-8", "--steps", 100, "--out", tmp_path / "f64")
    assert f64.exit_code == 0
    a, b = read(out, "runs").final_loss[0], read(tmp_path / "f64", "runs").final_loss[0]
    assert a != b and a == pytest.approx(b, rel=1e-3)
    assert json.loads((out / "manifest.json").read_text())["dtype"] == "float32"
    assert str(np.float32(a)) == str(float(a))  # written as the shortest float32 text


def test_json_output(tmp_path):
    res = invoke("run", "fun5", "--steps", 50, "--json", "--out", tmp_path / "j")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["summary"][0]["label"] == "aida_pq"
    names = {p.rsplit("/", 1)[-1] for p in data["paths"]}
    assert {"trace.csv", "runs.csv", "summary.csv", "convergence.png", "manifest.json"} <= names


def test_flags_become_the_config(monkeypatch, tmp_path):
    seen = {}

    def fake_run(config, progress=None, **kwargs):  # store=: cells for --resume
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr(api, "run", fake_run)
    invoke(
        "run",
        "tridia",
        "--opt",
        "adam",
        "--lr",
        "1e-3,1e-2",
        "--hp",
        "b2=0.9",
        "--dim",
        10,
        "--seeds",
        3,
        "--steps",
        77,
        "--log-every",
        7,
    )
    c = seen["config"]
    assert c.problem == "tridia" and c.optimizers == ("adam",)
    assert c.hyper == (("learning_rate", (1e-3, 1e-2)), ("b2", (0.9,)))
    assert c.problem_options == (("dim", "10"),)
    assert (c.seeds, c.steps, c.log_every, c.dtype) == (3, 77, 7, "float64")


def test_ranges_are_log_spaced():
    from optlab.labels import parse_values

    assert parse_values("1e-4:1e-2:3", "x") == pytest.approx([1e-4, 1e-3, 1e-2])
    assert parse_values("0:1:3", "x") == [0.0, 0.5, 1.0]


def test_range_points_are_short_and_exact():
    """Interior points are rounded to 6 significant digits (labels stay short and read back
    to the same value), unless that would merge points; the ends are kept as given."""
    from optlab.labels import format_value, parse_values

    values = parse_values("1e-3:0.2:8", "x")
    assert values[0] == 1e-3 and values[-1] == 0.2 and values[3] == 0.00968625
    np.testing.assert_allclose(values, np.geomspace(1e-3, 0.2, 8), rtol=5e-6)
    assert all(len(format_value(v)) <= 10 for v in values)
    assert parse_values("0:0.3:4", "x") == [0.0, 0.1, 0.2, 0.3]
    narrow = parse_values("1:1.0000001:5", "x")
    assert len(set(narrow)) == 5 and narrow == sorted(narrow)


def test_list_and_info():
    res = invoke("list", "optimizers")
    assert res.exit_code == 0 and "aida_pq" in res.output and "E1" in res.output
    data = json.loads(invoke("list", "optimizers", "--json").stdout)
    assert {"aida_pq", "adam", "adamw", "sgd", "heavy_ball"} <= {r["id"] for r in data}
    cite = invoke("list", "optimizers", "aida_pq", "--cite")
    assert "@article{zhang2021aida" in cite.output
    probs = json.loads(invoke("list", "problems", "--json").stdout)
    fun5 = next(r for r in probs if r["id"] == "fun5")
    assert fun5["dim"] == 100 and fun5["f_star"] == 0 and "tridia" in fun5["aliases"]
    assert invoke("list", "things").exit_code == 2
    assert invoke("list", "optimizers", "adamm").exit_code == 2
    info = json.loads(invoke("info", "--json").stdout)
    assert info["x64"] is True and info["versions"]["jax"]


def test_layering_in_a_fresh_interpreter():
    """docs/architecture.md#layout: the CLI, plots and io import no JAX (so --help is instant)."""
    no_jax = (
        "import sys, optlab.cli, optlab.plots.curves, optlab.io.frames, optlab.io.outputs;"
        "assert 'jax' not in sys.modules, 'jax imported'"
    )
    core = (
        "import sys, optlab.runner, optlab.metrics, optlab.registry;"
        "assert 'pandas' not in sys.modules and 'matplotlib' not in sys.modules"
    )
    for code in (no_jax, core):
        subprocess.run([sys.executable, "-c", code], check=True)


def test_labels_with_brackets_are_printed_verbatim(tmp_path):
    res = invoke(
        "run", "fun5", "--opt", "adam", "--lr", "1e-3,1e-2", "--steps", 20, "--out", tmp_path / "l"
    )
    assert res.exit_code == 0
    assert "adam[learning_rate=0.01]" in res.output.replace("\n", "").replace("│", "").replace(
        " ", ""
    )


def test_diagnostics_columns_match_a_numpy_adam(tmp_path):
    """--diagnostics: S1 = sum_t ||g_t / (sqrt(v_hat_t) + eps)||^2,
    S2 = sum_t ||1/d_t - 1/d_{t-1}||_1
    (Zhu et al., arXiv:2006.11918, section 4.1; docs/problems.md#chen), step_size = lr / d_t,
    against a NumPy Adam."""
    from problems import get_problem

    out = tmp_path / "d"
    res = invoke(
        "run",
        "fun5",
        "--dim",
        4,
        "--opt",
        "adam",
        "--lr",
        "0.01",
        "--steps",
        40,
        "--log-every",
        1,
        "--diagnostics",
        "--out",
        out,
    )
    assert res.exit_code == 0, res.output
    trace = read(out)
    p = get_problem("fun5", dim=4)
    import jax

    grad = jax.grad(p.value)
    x, m, v = np.ones(4), np.zeros(4), np.zeros(4)
    s1 = s2 = 0.0
    prev = np.zeros(4)
    for t in range(1, 41):
        g = np.asarray(grad(x))
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        den = np.sqrt(v / (1 - 0.999**t)) + 1e-8
        s1 += np.sum((g / den) ** 2)
        s2 += np.sum(np.abs(1 / den - prev))
        prev = 1 / den
        x = x - 0.01 * (m / (1 - 0.9**t)) / den
    last = trace.iloc[-1]
    assert pytest.approx(s1, rel=1e-10) == last.S1
    assert pytest.approx(s2, rel=1e-10) == last.S2
    assert last.step_size_mean == pytest.approx(np.mean(0.01 / den), rel=1e-10)


def test_summary_numbers_are_never_cut_on_80_columns(tmp_path):
    """Each number in the table is the full 4-digit value from summary.csv (the label folds
    instead), and a grid without divergence says so instead of a column of 'no'."""
    out = tmp_path / "narrow"
    res = invoke(
        "run", "fun5", "--opt", "adam", "--lr", "1e-3:1e-1:3", "--steps", 300, "--out", out
    )
    assert res.exit_code == 0, res.output
    assert "no run diverged" in res.output and "…" not in res.output
    from optlab.cli._console import fmt

    summary = read(out, "summary")
    for value in summary.final_grad_norm:
        assert fmt(value) in res.output


def test_error_messages_print_brackets_literally(tmp_path):
    out = tmp_path / "never"
    res = invoke("run", "fun5", "--opt", "adam[b1=0]", "--opt", "adam[b1=0]", "--out", out)
    assert res.exit_code == 2 and "the run 'adam[b1=0]' is asked for twice" in res.output
    assert not out.exists()
