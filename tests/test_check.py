"""`optlab check`: the contract rows on plug-ins with known defects (each must fail on its
own row), the example plug-in with its NumPy reference, and the command's exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optlab import checks, registry
from optlab.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LION = EXAMPLES / "lion.py"
cli = CliRunner()

# A plain momentum method written like a built-in; the defects below edit one line of it.
MOMENTUM = """
from typing import NamedTuple

from optlab import Optimizer, OptimizerEntry
from optlab.optim_utils import init_count, jax, jnp, tree_map, zeros_like_tree


class Hyper(NamedTuple):
    learning_rate: float = 1e-2
    momentum: float = 0.9


class State(NamedTuple):
    count: object
    m: object


def direction(g):
    return g


def make():
    def init(params, hyper):
        return State(init_count(), zeros_like_tree(params))

    def step(params, grads, state, h):
        m = tree_map(lambda m, g: h.momentum * m + direction(g), state.m, grads)
        new = tree_map(lambda x, m: x - h.learning_rate * m, params, m)
        m = tree_map(lambda v: v.astype(V_DTYPE), m)
        return new, State(state.count + 1, m)

    return Optimizer("ID", init, step, Hyper(), {}, "a test plug-in")


V_DTYPE = jnp.float64
PATCH
ENTRY = OptimizerEntry(id="ID", make=make, summary="s", paper="p", eps="none", decay="none")
"""
SOUND = MOMENTUM.replace("v.astype(V_DTYPE)", "v")
DEFECTS = {
    # the momentum is stored in float32 whatever the parameters' dtype
    "state": MOMENTUM.replace("V_DTYPE = jnp.float64", "V_DTYPE = jnp.float32"),
    # a normalised gradient without a guard: 0/0 when the gradient is zero
    "zero_gradient": SOUND.replace("return g\n", "return g / jnp.sqrt(jnp.sum(g * g))\n"),
    # the learning rate is pytree metadata (static): every new value is a new program
    "compiles_once": SOUND.replace(
        "PATCH",
        "jax.tree_util.register_pytree_node(\n"
        "    Hyper,\n"
        "    lambda h: ((h.momentum,), float(h.learning_rate)),\n"
        "    lambda lr, children: Hyper(lr, *children),\n"
        ")",
    ),
}


def write_plugin(tmp_path, oid: str, source: str) -> Path:
    path = tmp_path / f"{oid}.py"
    path.write_text(source.replace("ID", oid).replace("PATCH", ""))
    return path


def rows_of(path: Path, oid: str) -> dict:
    with registry.with_plugins([path]):
        return {r.key: r for r in checks.check_entry(registry.optimizer_entry(oid))}


def test_a_sound_plugin_passes_every_row(tmp_path):
    rows = rows_of(write_plugin(tmp_path, "sound", SOUND), "sound")
    assert set(rows) == set(checks.CHECKS)
    assert all(r.passed for r in rows.values()), [r for r in rows.values() if not r.passed]


@pytest.mark.parametrize("row", sorted(DEFECTS))
def test_each_defect_fails_its_own_row(tmp_path, row):
    oid = f"bad_{row}"
    rows = rows_of(write_plugin(tmp_path, oid, DEFECTS[row]), oid)
    assert not rows[row].passed, rows[row]
    # the defect is named, not hidden behind an unrelated failure
    assert rows["descends"].passed and rows["float32"].passed, rows
    if row != "compiles_once":  # a static learning rate cannot be stacked for vmap either
        assert rows["vmap"].passed and rows["compiles_once"].passed, rows


def test_defect_details_say_what_went_wrong(tmp_path):
    drift = rows_of(write_plugin(tmp_path, "drift", DEFECTS["state"]), "drift")["state"]
    assert "float64" in drift.detail and "float32" in drift.detail and ".m" in drift.detail
    nan = rows_of(write_plugin(tmp_path, "nan", DEFECTS["zero_gradient"]), "nan")
    assert "step 1" in nan["zero_gradient"].detail
    static = rows_of(write_plugin(tmp_path, "st", DEFECTS["compiles_once"]), "st")
    assert "traced 3 times" in static["compiles_once"].detail


def test_example_lion_passes_with_its_numpy_reference():
    with registry.with_plugins([LION]):
        ref = checks.load_reference(f"{LION}:reference")
        rows = checks.check_entry(registry.optimizer_entry("lion"), ref)
    assert [r.key for r in rows][-1] == "reference"
    assert all(r.passed for r in rows), [r for r in rows if not r.passed]


def test_a_wrong_reference_fails_the_reference_row(tmp_path):
    wrong = tmp_path / "wrong.py"
    wrong.write_text(LION.read_text().replace("x = x - lr", "x = x - 1.001 * lr"))
    with registry.with_plugins([LION]):
        ref = checks.load_reference(f"{wrong}:reference")
        rows = checks.check_entry(registry.optimizer_entry("lion"), ref, only=())
    assert len(rows) == 1 and not rows[0].passed and "first at step" in rows[0].detail


def test_cli_exit_codes_and_json(tmp_path):
    good = cli.invoke(app, ["check", "sgd", "--json"])
    assert good.exit_code == 0, good.output
    report = json.loads(good.output)
    assert report["passed"] and report["optimizers"][0]["id"] == "sgd"
    bad_path = write_plugin(tmp_path, "drifty", DEFECTS["state"])
    bad = cli.invoke(app, ["check", "drifty", "--plugin", str(bad_path)])
    assert bad.exit_code == 1
    assert "FAIL" in bad.output and "failed: drifty" in bad.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check"], "--all"),
        (["check", "nosuch"], "unknown optimizer 'nosuch'"),
        (["check", "sgd", "--reference", "nofile.py:f"], "nofile.py: no such file"),
        (["check", "sgd", "--reference", f"{LION}:nothere"], "no function 'nothere'"),
        (["check", "sgd", "adam", "--reference", f"{LION}:reference"], "exactly one"),
    ],
)
def test_bad_input_exits_2(args, message):
    res = cli.invoke(app, args)
    assert res.exit_code == 2 and message in res.output, res.output
