"""Output writing: all or nothing, and earlier results are never replaced silently."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from matplotlib.figure import Figure

from optlab.errors import UsageError
from optlab.io import outputs


class BrokenFigure:
    def savefig(self, path, **kwargs):
        raise ValueError("cannot draw this figure")


def test_a_failure_leaves_the_folder_as_it_was(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "trace.csv").write_text("earlier results\n")
    table = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(ValueError, match="cannot draw"):
        outputs.write_outputs(out, {"trace": table}, {"broken": BrokenFigure()}, {"k": 1})
    assert (out / "trace.csv").read_text() == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging folder left


def test_a_new_folder_is_not_created_by_a_failed_write(tmp_path):
    out = tmp_path / "new" / "run"
    with pytest.raises(ValueError):
        outputs.write_outputs(out, {}, {"broken": BrokenFigure()}, {})
    assert not out.exists()


def test_success_moves_every_file_in_order(tmp_path):
    out = tmp_path / "run"
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    paths = outputs.write_outputs(out, {"runs": pd.DataFrame({"a": [1]})}, {"plot": fig}, {"k": 1})
    assert [p.name for p in paths] == ["runs.csv", "plot.png", "manifest.json"]
    assert all(p.parent == out and p.is_file() for p in paths)
    assert json.loads((out / "manifest.json").read_text()) == {
        "k": 1,
        "files": ["runs.csv", "plot.png", "manifest.json"],
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_non_empty_folder_needs_overwrite(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "x.csv").write_text("1\n")
    with pytest.raises(UsageError, match="--overwrite"):
        outputs.check_out_dir(out, overwrite=False)
    assert outputs.check_out_dir(out, overwrite=True) == out
