"""Every command that writes a folder holds its lock: a second run into it is exit 2 at once."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from optlab.cli import app
from optlab.io import outputs

cli = CliRunner()

COMMANDS = {
    "stability": ["stability", "--opt", "sgd", "--lr", "0.1"],
    "tune": ["tune", "sphere", "--opt", "sgd", "--budget", "2", "--steps", "5"],
    "profile": ["profile", "--suite", "sphere", "--opt", "sgd", "--steps", "5"],
    "reproduce": ["reproduce", "reddi-fig1", "--quick"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_second_run_into_a_held_folder_is_refused(tmp_path, name):
    out = tmp_path / "out"
    with outputs.held(out):
        res = cli.invoke(app, [*COMMANDS[name], "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "in use by another optlab run" in res.output
    assert not out.exists()
    assert not list(tmp_path.glob(".out.lock"))  # released with the block


def test_held_removes_parents_it_made_and_killed_runs_leftovers(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with outputs.held(out):
        assert (tmp_path / "a" / "b").is_dir()
    assert not (tmp_path / "a").exists()
    (tmp_path / ".x.partial-123").mkdir()
    with outputs.held(tmp_path / "x"):
        pass
    assert not (tmp_path / ".x.partial-123").exists()
