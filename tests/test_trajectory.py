"""`optlab trajectory`: paths over a 2-D landscape, PNG and GIF; refuses non-2-D problems."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image
from typer.testing import CliRunner

from optlab.cli import app

cli = CliRunner()
QUAD = "quadratic[gamma=[1,10],x0=[1,1]]"


def test_trajectory_writes_paths_and_gif(tmp_path):
    out = tmp_path / "t"
    res = cli.invoke(
        app,
        [
            "trajectory",
            QUAD,
            "--opt",
            "sgd",
            "--opt",
            "adam",
            "--lr",
            "0.05",
            "--steps",
            "100",
            "--gif",
            "--frames",
            "5",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    for name in ("trajectory.png", "trajectory.gif", "trace.csv", "manifest.json"):
        assert (out / name).is_file() and name in res.output
    gif = Image.open(out / "trajectory.gif")
    assert gif.n_frames == 5
    pixels = []
    for k in range(gif.n_frames):
        gif.seek(k)
        pixels.append(np.asarray(gif.convert("RGB"), dtype=int))
    # the moving paths are drawn on every frame over the same landscape: consecutive frames
    # differ, but only in a small part of the picture
    for a, b in zip(pixels, pixels[1:], strict=False):
        changed = np.any(a != b, axis=-1).mean()
        assert 0 < changed < 0.2, changed
    trace = pd.read_csv(out / "trace.csv")
    sgd = trace[trace.optimizer == "sgd"].sort_values("step")
    # plain gradient descent on 1/2 (x^2 + 10 y^2): x_t = 0.95^t, y_t = 0.5^t
    t = sgd.step.to_numpy()
    np.testing.assert_allclose(sgd.x_0, 0.95**t, rtol=1e-12)
    np.testing.assert_allclose(sgd.x_1, 0.5**t, rtol=1e-12, atol=1e-300)


def test_trajectory_refuses_a_problem_that_is_not_2d(tmp_path):
    out = tmp_path / "never"
    res = cli.invoke(app, ["trajectory", "fun5", "--out", str(out)])
    assert res.exit_code == 2 and "2-D problem" in res.output and "dimension 100" in res.output
    assert not out.exists()
