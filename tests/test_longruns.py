"""Long runs: output folders checked and locked before the work, --overwrite, leftovers of
killed runs, --resume after Ctrl-C, --shard + merge, refused step counts, literal help."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optlab import api
from optlab.cli import app
from optlab.io import outputs

cli = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TABLES = ("trace.csv", "runs.csv", "summary.csv")


def invoke(*args):
    return cli.invoke(app, [str(a) for a in args])


def no_compute(monkeypatch):
    """Fail the test if any cell is computed."""

    def refuse(*args, **kwargs):
        raise AssertionError("computed before the output folder was checked")

    monkeypatch.setattr(api, "_compute_cell", refuse)


def beside(out: Path) -> list[str]:
    """Everything in out's parent but out itself (leftovers, locks, caches)."""
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name)


def test_a_folder_in_use_is_refused_at_once(tmp_path, monkeypatch):
    out = tmp_path / "run"
    no_compute(monkeypatch)
    with outputs.FolderLock(out):
        res = invoke("run", "fun5", "--steps", 50, "--out", out)
    assert res.exit_code == 2, res.output
    assert "in use by another optlab run" in res.output and str(out) in res.output
    assert not out.exists() and beside(out) == []


def test_overwrite_after_a_trajectory_run_leaves_no_stale_files(tmp_path):
    out = tmp_path / "t"
    mine = out / "notes.txt"
    res = invoke("trajectory", "rosenbrock", "--steps", 30, "--gif", "--frames", 3, "--out", out)
    assert res.exit_code == 0, res.output
    assert (out / "trajectory.gif").is_file()
    mine.write_text("not optlab's")
    res = invoke("run", "fun5", "--steps", 30, "--out", out, "--overwrite")
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["convergence.png", "manifest.json", "notes.txt", "runs.csv", "summary.csv", "trace.csv"]
    )
    assert mine.read_text() == "not optlab's"
    assert beside(out) == []


def test_a_parent_that_is_a_file_is_exit_2_before_any_compute(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "run"
    no_compute(monkeypatch)
    res = invoke("run", "fun5", "--steps", 50, "--out", out)
    assert res.exit_code == 2 and str(out) in res.output and "not a folder" in res.output
    assert "OSError" not in res.output and len(res.output.strip().splitlines()) == 1


def _read_only_folder() -> Path | None:
    """A folder of a read-only mount (root ignores permission bits, not read-only mounts)."""
    for candidate in ("/sys", "/proc/sys"):
        folder = Path(candidate)
        if folder.is_dir() and not outputs._writable(folder):
            return folder
    return None


def test_a_read_only_parent_is_exit_2_before_any_compute(monkeypatch):
    folder = _read_only_folder()
    if folder is None:
        pytest.skip("no read-only mount here")
    out = folder / "optlab-run"
    no_compute(monkeypatch)
    res = invoke("run", "fun5", "--steps", 50, "--out", out)
    assert res.exit_code == 2, res.output
    assert "not writable" in res.output and str(out) in res.output
    assert not out.exists()


def test_a_name_too_long_is_exit_2_before_any_compute(tmp_path, monkeypatch):
    out = tmp_path / ("x" * 300)
    no_compute(monkeypatch)
    res = invoke("run", "fun5", "--steps", 50, "--out", out)
    assert res.exit_code == 2 and "longer than" in res.output


def test_too_little_free_space_is_exit_2(tmp_path, monkeypatch):
    class Usage:
        free = 10

    monkeypatch.setattr(outputs.shutil, "disk_usage", lambda p: Usage)
    with pytest.raises(outputs.UsageError, match="free there"):
        outputs.check_out_dir(tmp_path / "run", False, needed_bytes=1000)


def test_a_full_disk_while_writing_leaves_earlier_results_and_says_so(tmp_path, monkeypatch):
    import errno

    import pandas as pd

    out = tmp_path / "run"
    out.mkdir()
    (out / "trace.csv").write_text("earlier\n")

    def full(df, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs, "write_table", full)
    with pytest.raises(outputs.WriteError, match="disk is full.*intact"):
        outputs.write_outputs(out, {"trace": pd.DataFrame({"a": [1]})}, {}, {})
    assert (out / "trace.csv").read_text() == "earlier\n" and beside(out) == []


def test_huge_step_counts_are_refused(tmp_path, monkeypatch):
    no_compute(monkeypatch)
    for steps in (10**20, 2**31):
        res = invoke("run", "fun5", "--steps", steps, "--out", tmp_path / "r")
        assert res.exit_code == 2, res.output
        assert "step counter" in res.output and len(res.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_trajectory_display_options_out_of_range_are_refused(tmp_path, monkeypatch):
    no_compute(monkeypatch)
    for flag, value in (("--frames", 0), ("--resolution", 1)):
        res = invoke("trajectory", "rosenbrock", flag, value, "--out", tmp_path / "t")
        assert res.exit_code == 2 and flag in res.output, res.output
    assert list(tmp_path.iterdir()) == []


def test_brackets_appear_literally_in_help():
    res = cli.invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "'id[key=value,...]'" in res.output
    assert "'quadratic[gamma=10]'" in res.output and "'adam[learning_rate=0.01]'" in res.output


# ---- shards and merge ---------------------------------------------------------------------
SHARDED = ("run", "fun5", "--lr", "1e-3:1e-1:5", "--seeds", 2, "--steps", 300)


def test_shards_merged_are_byte_identical_to_the_whole_run(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTLAB_CELL_WORK", str(2 * 300))  # one grid point per cell
    whole = tmp_path / "whole"
    assert invoke(*SHARDED, "--out", whole).exit_code == 0
    parts = [tmp_path / f"part-{i}" for i in range(3)]
    for i, part in enumerate(parts):
        res = invoke(*SHARDED, "--shard", f"{i}/3", "--out", part)
        assert res.exit_code == 0, res.output
        assert str(part / "manifest.json") in res.output
    assert sorted(p.name for p in (parts[0] / "cells").glob("*.npz")) == ["0-0-0.npz", "0-0-3.npz"]
    merged = tmp_path / "merged"
    res = invoke("merge", *parts, "--out", merged)
    assert res.exit_code == 0, res.output
    for name in TABLES:
        assert (merged / name).read_bytes() == (whole / name).read_bytes(), name
    assert beside(merged) == sorted(["whole", "part-0", "part-1", "part-2"])


def test_merge_refuses_missing_or_foreign_shards(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTLAB_CELL_WORK", str(2 * 300))
    a, b, other = tmp_path / "a", tmp_path / "b", tmp_path / "other"
    assert invoke(*SHARDED, "--shard", "0/2", "--out", a).exit_code == 0
    assert invoke(*SHARDED[:-1], 200, "--shard", "1/2", "--out", other).exit_code == 0
    res = invoke("merge", a, other, "--out", tmp_path / "m")
    assert res.exit_code == 2 and "another command" in res.output and str(other) in res.output
    res = invoke("merge", a, "--out", tmp_path / "m")
    assert res.exit_code == 2 and "missing shard(s) 1/2" in res.output
    res = invoke(*SHARDED, "--shard", "2/2", "--out", b)
    assert res.exit_code == 2 and "--shard" in res.output
    assert not (tmp_path / "m").exists()


# ---- interrupted and killed runs (subprocesses) -------------------------------------------
SLOW = ("run", "fun5", "--lr", "1e-3:1e-1:6", "--seeds", 2, "--steps", 400_000)
SLOW_ENV = {"OPTLAB_CELL_WORK": str(2 * 400_000)}  # one grid point per cell


def start(out: Path, *extra) -> subprocess.Popen:
    env = {**os.environ, **SLOW_ENV, "PYTHONPATH": str(ROOT), "OPTLAB_CACHE_DIR": "off"}
    args = [sys.executable, "-m", "optlab", *map(str, SLOW), "--out", str(out), *extra]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(condition, proc, timeout=120.0):
    end = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def cells_done(out: Path) -> int:
    return len(list((out.parent / f".{out.name}.cells").glob("*.npz")))


@pytest.mark.slow
def test_resume_after_sigint_is_byte_identical(tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    proc = start(out)
    wait_for(lambda: cells_done(out) >= 1, proc)
    second = invoke(*SLOW, "--out", out)  # a second run into the same folder meanwhile
    assert second.exit_code == 2 and "in use" in second.output
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    stderr = stderr.decode()
    assert proc.returncode == 130, stderr
    note = [line for line in stderr.splitlines() if line.startswith("interrupted:")]
    assert len(note) == 1 and "--resume" in note[0] and "Traceback" not in stderr
    assert not out.exists()
    kept = cells_done(out)
    assert 1 <= kept < 6
    for key, value in SLOW_ENV.items():
        monkeypatch.setenv(key, value)
    res = invoke(*SLOW, "--out", out, "--resume")
    assert res.exit_code == 0, res.output
    assert f"resuming: {kept} cells" in res.output
    whole = tmp_path / "whole"
    assert invoke(*SLOW, "--out", whole).exit_code == 0
    for name in TABLES:
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
    assert beside(out) == ["whole"]


@pytest.mark.slow
def test_a_killed_run_followed_by_a_new_one_leaves_nothing_behind(tmp_path, monkeypatch):
    out = tmp_path / "run"
    proc = start(out)
    wait_for(lambda: cells_done(out) >= 1, proc)
    stage = tmp_path / ".run.partial-killed"  # what a kill during the final write leaves
    stage.mkdir()
    (stage / "trace.csv").write_text("partial")
    proc.kill()
    proc.wait()
    assert beside(out) == sorted([".run.cells", ".run.lock", ".run.partial-killed"])
    res = invoke("run", "fun5", "--steps", 50, "--out", out)
    assert res.exit_code == 0, res.output
    assert "left by an interrupted run" in res.output
    assert beside(out) == []


def test_a_large_run_needs_yes_off_a_terminal(tmp_path, monkeypatch):
    from optlab.cli import _longrun

    monkeypatch.setattr(_longrun, "ASK_ABOVE_BYTES", 0)
    monkeypatch.setattr(_longrun, "CALIBRATE_ABOVE", 0)  # the time comes from a calibration
    args = ("run", "fun5", "--lr", "1e-3,1e-2", "--seeds", 3, "--steps", 4000)
    res = invoke(*args, "--out", tmp_path / "r")
    assert res.exit_code == 2, res.output
    assert "pass --yes" in res.output and "6 runs x 4_000 steps" in res.output
    assert " s;" in res.output or " min;" in res.output  # an estimated time
    assert list(tmp_path.iterdir()) == []
    res = invoke(*args, "--out", tmp_path / "r", "--yes")
    assert res.exit_code == 0 and "estimate: 6 runs" in res.output


def test_a_run_that_needs_more_memory_than_is_available_needs_yes(tmp_path, monkeypatch):
    """The estimate states the peak memory of building the tables (they are held in memory
    until written) and a run that would need most of what is free is not started."""
    from optlab.cli import _longrun

    info = {"runs": 10**6, "steps": 10, "dim": 100, "trace_rows": 2 * 10**6, "columns": 20}
    small = {**info, "runs": 10, "trace_rows": 20}
    assert (
        _longrun.estimate(None, small)["memory"] < 0.5e9 < _longrun.estimate(None, info)["memory"]
    )
    monkeypatch.setattr(_longrun, "available_memory", lambda: 1e6)  # 1 MB free
    args = ("run", "fun5", "--steps", 10, "--out", tmp_path / "r")
    res = invoke(*args)
    assert res.exit_code == 2 and "of memory" in res.output and "pass --yes" in res.output
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(_longrun, "available_memory", lambda: None)  # unknown: not asked
    assert invoke(*args).exit_code == 0


def test_jax_environment_problems_get_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPTLAB_CACHE_DIR": "off"}
    args = [sys.executable, "-m", "optlab", "run", "fun5", "--steps", "10", "--out"]
    gpu = subprocess.run(
        [*args, str(tmp_path / "a")],
        env={**env, "JAX_PLATFORMS": "no_such_backend"},
        capture_output=True,
        text=True,
    )
    assert gpu.returncode == 2, gpu.stderr
    assert gpu.stderr.count("\n") == 1 and "JAX_PLATFORMS=no_such_backend" in gpu.stderr
    res = cli.invoke(
        app, ["run", "fun5", "--steps", 10, "--out", tmp_path / "b"], env={"JAX_ENABLE_X64": "0"}
    )
    assert res.exit_code == 0
    assert "JAX_ENABLE_X64=0 is overridden: optlab computes in float64" in res.output
    assert not (tmp_path / "a").exists()


# ---- text: tables at any width, one value for identical seeds, legends --------------------
GRID = ("run", "fun5", "--opt", "adam", "--opt", "aida_pq[p=1,q=2]", "--lr", "1e-3,1e-2")
GRID += ("--b2", "0.99,0.999", "--seeds", 3, "--steps", 100)


@pytest.mark.parametrize("columns", [80, 50, 30])
def test_tables_never_split_a_label_or_a_number(tmp_path, columns):
    res = cli.invoke(
        app, [*map(str, GRID), "--out", str(tmp_path / "r")], env={"COLUMNS": str(columns)}
    )
    assert res.exit_code == 0, res.output
    labels = pd.read_csv(tmp_path / "r" / "summary.csv")["label"]
    summary = pd.read_csv(tmp_path / "r" / "summary.csv")
    text = res.output
    for label in labels:
        assert label in text, (label, text)  # whole, on one line
    for value in summary["final_loss"]:
        assert f"{value:.4g}" in text
    assert "…" not in text
    words = " ".join(text.split())  # a heading may wrap between words
    assert "every seed identical: one value" in words and "median" not in text


def test_identical_seeds_draw_one_line_and_noisy_ones_a_band():
    from optlab.plots.curves import convergence

    steps = np.arange(5)

    def trace(noise: float, labels=("a",), optimizers=None):
        rows = []
        for k, label in enumerate(labels):
            opt = (optimizers or labels)[k]
            for seed in range(3):
                for s in steps:
                    value = 1.0 / (s + 1) + noise * seed
                    rows.append((label, opt, f"{label}-{seed}", seed, s, value))
        cols = ["label", "optimizer", "run_id", "seed", "step", "loss"]
        return pd.DataFrame(rows, columns=cols).assign(problem="p")

    ax = convergence(trace(0.0), "loss").axes[0]
    assert len(ax.collections) == 0 and ax.get_legend().texts[0].get_text() == "a"
    ax = convergence(trace(0.1), "loss").axes[0]
    assert len(ax.collections) == 1  # the 25-75 % band
    many = [f"adam[lr={k}]" for k in range(10)] + [f"aida[lr={k}]" for k in range(10)]
    fig = convergence(trace(0.1, many, ["adam"] * 10 + ["aida"] * 10), "loss")
    texts = [t.get_text() for legend in fig.legends for t in legend.texts]
    texts += (
        [t.get_text() for t in fig.axes[0].get_legend().texts] if fig.axes[0].get_legend() else []
    )
    assert texts == ["adam (10 configurations)", "aida (10 configurations)"]
