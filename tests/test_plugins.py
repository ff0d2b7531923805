"""Plug-ins: optimizer and problem files loaded with --plugin (and installed packages through
entry points) get the whole lab; bad plug-ins are one line and exit 2; loading is scoped."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import optax
import pandas as pd
import pytest
from typer.testing import CliRunner

import optlab
from optlab import api, registry
from optlab.cli import app
from optlab.config import RunConfig
from optlab.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent
LION = ROOT / "examples" / "lion.py"
ROTATED = ROOT / "examples" / "rotated_quadratic.py"
cli = CliRunner()


def invoke(*args):
    return cli.invoke(app, [str(a) for a in args])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_with_plugin_optimizer_and_problem(tmp_path):
    out = tmp_path / "run"
    res = invoke(
        "run", "rotated_quadratic", "--plugin", LION, "--plugin", ROTATED,
        "--opt", "lion[learning_rate=[0.01,0.02]]", "--opt", "adam",
        "--steps", 200, "--out", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    runs = pd.read_csv(out / "runs.csv")
    assert runs.label.tolist() == [
        "lion[learning_rate=0.01]",
        "lion[learning_rate=0.02]",
        "adam",
    ]
    assert np.all(np.isfinite(runs.final_loss)) and runs.final_loss.iloc[1] < 2.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["plugins"] == [
        {"path": str(LION), "sha256": sha256(LION), "optimizers": ["lion"], "problems": []},
        {
            "path": str(ROTATED),
            "sha256": sha256(ROTATED),
            "optimizers": [],
            "problems": ["rotated_quadratic"],
        },
    ]
    assert manifest["config"]["plugins"] == [str(LION), str(ROTATED)]


def test_list_trajectory_and_stability_accept_plugins(tmp_path):
    listed = invoke("list", "optimizers", "lion", "--plugin", LION, "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert row["defaults"]["b2"] == 0.99 and row["plugin"] == str(LION)
    table = invoke("list", "optimizers", "lion", "adam", "--plugin", LION)
    assert table.output.count("(plug-in)") == 1  # lion only (the column may wrap it)
    problems = invoke("list", "problems", "--plugin", ROTATED, "--json")
    assert "rotated_quadratic" in [r["id"] for r in json.loads(problems.output)]
    traj = invoke(
        "trajectory", "rotated_quadratic", "--plugin", ROTATED, "--plugin", LION,
        "--opt", "lion", "--lr", 0.01, "--steps", 50, "--resolution", 20, "--out", tmp_path / "t",
    )  # fmt: skip
    assert traj.exit_code == 0, traj.output
    assert (tmp_path / "t" / "trajectory.png").is_file()
    stab = invoke(
        "stability", "rotated_quadratic", "--plugin", ROTATED, "--opt", "heavy_ball",
        "--lr", "0.001,0.05", "--out", tmp_path / "s", "--json",
    )  # fmt: skip
    assert stab.exit_code == 0, stab.output
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["plugins"][0]["sha256"] == sha256(ROTATED)
    table = pd.read_csv(tmp_path / "s" / "stability.csv")
    # heavy ball on lambda in [1, 100]: stable iff lr * lambda_max < 2 (1 + momentum)
    assert table.status.tolist() == ["stable", "unstable"]


def test_plugin_optax_export_equals_optax_lion():
    """The example Lion through optlab.optax is optax's own Lion (same formula, Chen et al.)."""
    x = np.linspace(-1.0, 1.0, 7)
    grads = np.random.default_rng(1).normal(size=(30, 7))

    def trajectory(tx):
        p, s, out = x.copy(), tx.init(x), []
        for g in grads:
            u, s = tx.update(g + p, s, p)
            p = optax.apply_updates(p, u)
            out.append(np.asarray(p))
        return np.stack(out)

    with optlab.with_plugins([LION]):
        import optlab.optax as olx

        ours = olx.lion(learning_rate=0.01, weight_decay=0.1)
        assert "lion" in dir(olx)
    with __import__("jax").numpy_dtype_promotion("standard"):
        want = trajectory(optax.lion(learning_rate=0.01, weight_decay=0.1))
        got = trajectory(ours)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_scope_does_not_leak():
    with pytest.raises(UsageError):
        registry.optimizer_entry("lion")
    with registry.with_plugins([LION]) as loaded:
        assert registry.optimizer_entry("lion") is loaded.optimizers["lion"]
        with registry.with_plugins([ROTATED, LION]):  # nested: adds, does not reload LION
            assert registry.optimizer_entry("lion") is loaded.optimizers["lion"]
            assert registry.problem_entry("rotated_quadratic").id == "rotated_quadratic"
        with pytest.raises(UsageError):
            registry.problem_entry("rotated_quadratic")
    with pytest.raises(UsageError):
        registry.optimizer_entry("lion")
    assert not [m for m in sys.modules if m.startswith("optlab_plugin_")]


def test_library_run_loads_its_plugins_and_leaves_nothing(tmp_path):
    config = RunConfig(
        problem="fun5",
        optimizers=("lion",),
        steps=20,
        out=str(tmp_path / "o"),
        plugins=(str(LION),),
    )
    result = api.run(config)
    assert result.runs.label.tolist() == ["lion"]
    assert "lion" not in registry.optimizer_ids()


# ---- bad plug-ins ---------------------------------------------------------------------------
GOOD = LION.read_text()
BAD = {
    "builtin": (
        GOOD.replace('id="lion"', 'id="adam"'),
        "optimizer id 'adam' is taken by a built-in",
    ),
    "syntax": (GOOD.replace("def make()", "def make(:"), r"line \d+: SyntaxError"),
    "import": ("import numpy\nimport no_such_module_xyz\n", "line 2: ModuleNotFoundError"),
    "raises": ("X = 1\nY = 1 / 0\n", "line 2: ZeroDivisionError"),
    "empty": ("X = 1\n", "defines no ENTRY or ENTRIES"),
    "not_a_record": ("ENTRY = 3\n", "int is not an OptimizerEntry or ProblemEntry"),
    "bad_make": (
        GOOD.replace('return Optimizer("lion", init, step, Hyper(), {}, REFERENCE)', "return 1"),
        "make\\(\\) returned int, not optlab.Optimizer",
    ),
    "bad_role": (
        GOOD.replace('{"count": "counter"}', '{"m": "sometimes"}'),
        "state role 'sometimes' of 'm'",
    ),
    "bad_id": (GOOD.replace('id="lion"', 'id="li on"'), "optimizer id 'li on' must be a name"),
    "bad_problem": (
        "from problems import ProblemEntry\n"
        "ENTRIES = [ProblemEntry(id='p', make=lambda: 3, summary='s')]\n",
        "problem 'p': make\\(\\) returned int, not Problem",
    ),
    "problem_alias": (
        ROTATED.read_text().replace(
            'tags=frozenset({"convex", "quadratic"}),\n    )', 'aliases=("tridia",),\n    )'
        ),
        "problem name 'tridia' is taken by a built-in",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_plugin_is_one_line_exit_2_naming_the_file(tmp_path, case):
    source, message = BAD[case]
    path = tmp_path / f"{case}.py"
    path.write_text(source)
    out = tmp_path / "out"
    res = invoke("run", "fun5", "--plugin", path, "--opt", "sgd", "--steps", 5, "--out", out)
    assert res.exit_code == 2, res.output
    line = " ".join(res.output.split())  # the console may wrap the one line
    assert f"plugin {path}" in line and re.search(message, line), res.output
    assert not out.exists()


def test_two_plugins_with_one_id_collide(tmp_path):
    copy = tmp_path / "copy.py"
    copy.write_text(GOOD)
    res = invoke("list", "optimizers", "--plugin", LION, "--plugin", copy)
    assert res.exit_code == 2
    assert "optimizer id 'lion' is already defined by" in " ".join(res.output.split())


def test_missing_plugin_file(tmp_path):
    res = invoke("list", "optimizers", "--plugin", tmp_path / "nope.py")
    assert res.exit_code == 2 and "no such file" in res.output


# ---- installed packages ---------------------------------------------------------------------
def fake_distribution(root: Path) -> None:
    """An installed package ``fake_optlab_lion`` whose entry points name a module of
    records and a problem list."""
    pkg = root / "fake_optlab_lion"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(GOOD.replace('id="lion"', 'id="lion_pkg"'))
    (pkg / "problems.py").write_text(ROTATED.read_text().replace('"rotated_quadratic"', '"rq_pkg"'))
    info = root / "fake_optlab_lion-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-optlab-lion\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[optlab.optimizers]\nlion = fake_optlab_lion\n\n"
        "[optlab.problems]\nrq = fake_optlab_lion.problems:ENTRIES\n"
    )


def test_entry_points_register_installed_packages(tmp_path, monkeypatch):
    fake_distribution(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    res = invoke("list", "optimizers", "lion_pkg", "--json")
    assert res.exit_code == 0, res.output
    run = invoke("run", "rq_pkg", "--opt", "lion_pkg", "--steps", 10, "--out", tmp_path / "o")
    assert run.exit_code == 0, run.output
    sources = json.loads((tmp_path / "o" / "manifest.json").read_text())["plugins"]
    assert [s["optimizers"] + s["problems"] for s in sources] == [["lion_pkg"], ["rq_pkg"]]
    assert sources[0]["path"].startswith("entry point lion = fake_optlab_lion")
    monkeypatch.undo()
    sys.modules.pop("fake_optlab_lion", None)
    sys.modules.pop("fake_optlab_lion.problems", None)
    assert "lion_pkg" not in registry.optimizer_ids()


# ---- done when: a renamed copy of adam is analysed exactly like adam -------------------------
def adam_copy(tmp_path: Path) -> Path:
    """optlab/optimizers/adam.py saved outside the package with its id changed to adam_w
    and its State field v renamed w (everywhere the file names it)."""
    source = (ROOT / "optlab" / "optimizers" / "adam.py").read_text()
    renamed = re.sub(r"\bv\b", "w", source)
    assert "state.w" in renamed and "w: object" in renamed and "state.v" not in renamed
    renamed = renamed.replace('id="adam"', 'id="adam_w"').replace(
        'Optimizer("adam"', 'Optimizer("adam_w"'
    )
    assert 'id="adam_w"' in renamed and '"adam_w"' in renamed
    path = tmp_path / "adam_w.py"
    path.write_text(renamed)
    return path


def test_renamed_adam_copy_runs_like_adam(tmp_path):
    copy = adam_copy(tmp_path)
    common = ["--lr", "0.001,0.01,0.1", "--steps", 300, "--diagnostics", "--plugin", copy]
    for oid in ("adam", "adam_w"):
        res = invoke("run", "fun5", "--dim", 6, "--opt", oid, *common, "--out", tmp_path / oid)
        assert res.exit_code == 0, res.output
    a, b = (pd.read_csv(tmp_path / oid / "trace.csv") for oid in ("adam", "adam_w"))
    assert b.label.str.replace("adam_w", "adam").tolist() == a.label.tolist()
    numbers = [c for c in a.columns if c not in ("optimizer", "label")]
    assert any(c.startswith("step_size") or "S1" in c for c in numbers), numbers
    pd.testing.assert_frame_equal(a[numbers], b[numbers])


def test_renamed_adam_copy_has_adams_stability(tmp_path):
    copy = adam_copy(tmp_path)
    # eps = 1: Adam's fixed point (v* = 0) has a boundary inside the grid (lr = 0.6, 3.8)
    grid = ["--lr", "0.1,0.5,1,5", "--b1", "0.5,0.9", "--eps", "1"]
    for oid in ("adam", "adam_w"):
        res = invoke(
            "stability", "quadratic", "--opt", oid, *grid, "--plugin", copy,
            "--out", tmp_path / oid, "--json",
        )  # fmt: skip
        assert res.exit_code == 0, res.output
    a, b = (pd.read_csv(tmp_path / oid / "stability.csv") for oid in ("adam", "adam_w"))
    assert len(a) == 8 and a.status.nunique() > 1  # the grid crosses the boundary
    assert b.label.str.replace("adam_w", "adam").tolist() == a.label.tolist()
    # verdicts, statuses, reasons, spectral radii (autodiff and closed form), sources: all
    # equal; text that names the state field says w where adam's says v
    same = [c for c in a.columns if c != "label"]
    text = [c for c in same if b[c].dtype == object or str(b[c].dtype) in ("str", "string")]
    b[text] = b[text].apply(lambda col: col.str.replace(r"\bw\b", "v", regex=True))
    pd.testing.assert_frame_equal(a[same], b[same])


# ---- the README's "Bring your own optimizer" works as printed -------------------------------
def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Bring your own optimizer")
    return text[start : text.index("\n## ", start + 1)]


def code_blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)


def test_readme_plugin_file_passes_the_contract(tmp_path):
    path = tmp_path / "my_sign.py"
    path.write_text(code_blocks(readme_section(), "python")[0])
    res = invoke("check", "my_sign", "--plugin", path, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["passed"]


@pytest.mark.slow
def test_readme_plugin_commands_run_as_printed(tmp_path, monkeypatch):
    import shlex
    import shutil

    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    (block,) = code_blocks(readme_section(), "bash")
    commands = block.replace("\\\n", " ").strip().splitlines()
    assert len(commands) == 4
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "optlab"
        res = cli.invoke(app, argv[1:])
        assert res.exit_code == 0, (command, res.output)
    python = code_blocks(readme_section(), "python")[1]
    namespace: dict = {}
    exec(compile(python, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    assert namespace["result"].runs.label.tolist() == ["lion"]


def test_plugins_come_from_a_config_file(tmp_path):
    config = tmp_path / "lion.toml"
    config.write_text(
        f'plugin = ["{LION}", "{ROTATED}"]\nopt = ["lion"]\nsteps = 20\nlr = [0.01, 0.02]\n'
    )
    out = tmp_path / "o"
    res = invoke("run", "rotated_quadratic", "--config", config, "--out", out)
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["path"] for s in manifest["plugins"]] == [str(LION), str(ROTATED)]
    assert pd.read_csv(out / "runs.csv").label.str.startswith("lion").all()


def test_rerun_of_a_plugin_run_gives_the_same_files(tmp_path):
    first, again = tmp_path / "a", tmp_path / "b"
    res = invoke("run", "fun5", "--plugin", LION, "--opt", "lion", "--steps", 30, "--out", first)
    assert res.exit_code == 0, res.output
    res = invoke("rerun", first / "manifest.json", "--out", again)
    assert res.exit_code == 0, res.output
    for name in ("trace.csv", "runs.csv"):
        assert (first / name).read_bytes() == (again / name).read_bytes()


def test_tune_profile_and_tuned_runs_take_plugins(tmp_path):
    plugins = ["--plugin", ROTATED, "--plugin", LION]
    tuned = tmp_path / "t"
    res = invoke(
        "tune", "rotated_quadratic", *plugins, "--opt", "lion", "--opt", "adam",
        "--budget", 2, "--steps", 30, "--out", tuned,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    manifest = json.loads((tuned / "manifest.json").read_text())
    assert [s["path"] for s in manifest["plugins"]] == [str(ROTATED), str(LION)]
    best = tuned / "best.csv"
    res = invoke("run", "rotated_quadratic", *plugins, "--tuned", best, "--out", tmp_path / "r")
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "r" / "runs.csv").optimizer.tolist() == ["lion", "adam"]
    res = invoke("profile", tuned, "--plugin", LION, "--out", tmp_path / "p")
    assert res.exit_code == 0, res.output
    bad = invoke("tune", "rotated_quadratic", "--opt", "lion", "--out", tmp_path / "x")
    assert bad.exit_code == 2 and "unknown problem 'rotated_quadratic'" in bad.output
