"""``--config FILE.toml`` (command line > file > defaults, bad keys refused) and
``optlab rerun manifest.json`` (the same CSV files, byte for byte)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optlab.cli import app

ROOT = Path(__file__).resolve().parents[1]
cli = CliRunner()
CSVS = ("trace.csv", "runs.csv", "summary.csv")


def invoke(*args):
    return cli.invoke(app, [str(a) for a in args])


def toml(tmp_path, text: str, name="c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_command_line_beats_file_beats_defaults(tmp_path):
    path = toml(
        tmp_path,
        'problem = "fun5"\nopt = ["adam", "sgd"]\nsteps = 40\ndim = 4\nlr = [1e-3, 1e-2]\n'
        "log_every = 10\n",
    )
    out = tmp_path / "o"
    res = invoke("run", "--config", path, "--steps", 30, "--opt", "adam", "--out", out)
    assert res.exit_code == 0, res.output
    config = manifest(out)["config"]
    assert config["steps"] == 30 and config["optimizers"] == ["adam"]  # command line
    assert config["problem_options"] == [["dim", "4"]] and config["log_every"] == 10  # file
    assert config["hyper"] == [["learning_rate", [1e-3, 1e-2]]]  # file, a list -> a grid
    assert config["seeds"] == 1 and config["dtype"] == "float64"  # defaults
    cli_section = manifest(out)["cli"]
    assert cli_section["config_file"] == str(path)
    assert cli_section["options"]["steps"] == 30 and cli_section["options"]["dim"] == 4
    assert cli_section["options"]["log-every"] == 10 and cli_section["options"]["opt"] == ["adam"]


def test_the_positional_argument_and_a_table_for_hp(tmp_path):
    path = toml(
        tmp_path,
        'problem = "fun5"\ndim = 4\nsteps = 20\nopt = ["adam"]\nhp = {eps = [1e-8, 1e-6]}\n',
    )
    out = tmp_path / "o"
    assert invoke("run", "--config", path, "--out", out).exit_code == 0
    assert manifest(out)["config"]["hyper"] == [["eps", [1e-8, 1e-6]]]
    # the command line's problem wins over the file's
    res = invoke("run", "fun1", "--config", path, "--out", tmp_path / "o2")
    assert res.exit_code == 0 and manifest(tmp_path / "o2")["problem"]["name"] == "fun1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stepz = 10\n", "unknown key 'stepz' (did you mean 'steps'?)"),
        ('steps = "ten"\n', "steps must be an integer, got 'ten'"),
        ("steps = 1.5\n", "steps must be an integer"),
        ("record-x = 1\n", "record-x must be true or false"),
        ("lr = true\n", "lr must be a string or a number"),
        ("steps = 10\nsteps = 20\n", "not valid TOML"),
        ("lr = 0.1\neta = 0.2\n", "'eta' sets an option that another key sets too"),
        ('opt = ["adam[b1=0]", 3]\n', "opt must be a string or a list of strings"),
    ],
)
def test_a_bad_file_is_one_line_naming_key_and_file_and_exit_2(tmp_path, text, message):
    path = toml(tmp_path, 'problem = "fun5"\n' + text)
    out = tmp_path / "never"
    res = invoke("run", "--config", path, "--out", out)
    assert res.exit_code == 2, res.output
    line = " ".join(res.output.split())
    assert f"--config {path}:" in line and message in line, res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()


def test_a_missing_file_is_exit_2(tmp_path):
    res = invoke("run", "fun5", "--config", tmp_path / "nope.toml")
    assert res.exit_code == 2 and "no such file" in res.output


def test_config_on_trajectory_and_stability(tmp_path):
    path = toml(tmp_path, 'opt = ["sgd"]\nlr = 0.05\nsteps = 20\nresolution = 20\n')
    res = invoke(
        "trajectory", "quadratic[gamma=[1,10],x0=[1,1]]", "--config", path, "--out", tmp_path / "t"
    )
    assert res.exit_code == 0, res.output
    config = manifest(tmp_path / "t")["config"]
    assert config["steps"] == 20 and config["resolution"] == 20 and config["optimizers"] == ["sgd"]
    path = toml(tmp_path, 'opt = "heavy_ball"\nlr = [0.1, 1.0]\nrefine = 1\n', "bad.toml")
    res = invoke("stability", "--config", path, "--out", tmp_path / "s")
    assert res.exit_code == 2 and "unknown key 'refine'" in res.output
    path = toml(tmp_path, 'opt = "heavy_ball"\nlr = [0.1, 1.0]\ntol = 1e-6\n', "s.toml")
    res = invoke("stability", "--config", path, "--tol", "1e-7", "--out", tmp_path / "s")
    assert res.exit_code == 0, res.output
    config = manifest(tmp_path / "s")["config"]
    assert config["optimizer"] == "heavy_ball" and config["tol"] == 1e-7
    assert config["hyper"] == [["learning_rate", [0.1, 1.0]]]


def test_readme_config_file_is_accepted(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Configuration files") :]
    path = toml(tmp_path, re.search(r"```toml\n(.*?)```", section, re.S).group(1))
    out = tmp_path / "o"
    res = invoke("run", "--config", path, "--steps", 5, "--dim", 4, "--out", out)
    assert res.exit_code == 0, res.output
    assert len(json.loads((out / "manifest.json").read_text())["optimizers"]) == 2


@pytest.mark.parametrize(
    "command",
    [
        [
            "run",
            "chen",
            "--opt",
            "adam",
            "--opt",
            "sgd",
            "--seeds",
            3,
            "--steps",
            60,
            "--lr",
            "0.1,0.3",
        ],
        ["trajectory", "rosenbrock", "--opt", "adam", "--lr", 0.01, "--steps", 40],
    ],
    ids=["run", "trajectory"],
)
def test_rerun_reproduces_the_csv_files_byte_for_byte(tmp_path, command):
    first, again = tmp_path / "first", tmp_path / "again"
    assert invoke(*command, "--out", first).exit_code == 0
    res = invoke("rerun", first / "manifest.json", "--out", again)
    assert res.exit_code == 0, res.output
    for name in CSVS:
        assert (again / name).read_bytes() == (first / name).read_bytes(), name
        assert str(again / name) in res.output
    m = manifest(again)
    assert m["rerun_of"] == str(first / "manifest.json") and m["kind"] == command[0]
    assert m["config"] == {**manifest(first)["config"], "out": str(again), "command": m["command"]}


def test_rerun_refuses_what_is_not_a_manifest(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    res = invoke("rerun", bad)
    assert res.exit_code == 2 and "optlab manifest" in res.output
    res = invoke("rerun", tmp_path / "none.json")
    assert res.exit_code == 2 and "no such file" in res.output
    bad.write_text(json.dumps({"kind": "run", "config": {"stepz": 1}}))
    res = invoke("rerun", bad)
    assert res.exit_code == 2 and "stepz" in res.output


def test_rerun_of_a_stability_analysis_is_byte_for_byte(tmp_path):
    first, again = tmp_path / "first", tmp_path / "again"
    args = ["stability", "--opt", "heavy_ball", "--lr", "1e-3:1:5", "--hp", "momentum=0.5,0.9"]
    assert invoke(*args, "--out", first).exit_code == 0
    res = invoke("rerun", first / "manifest.json", "--out", again)
    assert res.exit_code == 0, res.output
    csvs = sorted(p.name for p in first.glob("*.csv"))
    assert "stability.csv" in csvs and csvs == sorted(p.name for p in again.glob("*.csv"))
    for name in csvs:
        assert (again / name).read_bytes() == (first / name).read_bytes(), name
