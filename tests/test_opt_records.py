"""One optimizer, one file, one record: what the analysis knows about an optimizer comes from
its ``OptimizerEntry`` (state roles, closed form, fixed-point note), never from its id or
the names of its state fields.

The test of record: a copy of ``optlab/optimizers/adam.py`` built outside the package, with
its id changed and its second moment ``v`` renamed ``w`` everywhere in the source, gives the
same ``run`` numbers and the same stability verdicts, spectral radii and statuses as
``adam`` over a learning-rate grid with stable and unstable points.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import optlab.optimizers.adam as adam_module
from optlab import api, api_stability
from optlab.config import RunConfig, StabilityConfig
from optlab.optimizers import entries

# eps = 1e-2 on 5 x^2 puts Adam's boundary (Theorem 2) near lr = 0.04: the grid
# 1e-4 .. 1 holds stable and unstable points
LRS = tuple(float(v) for v in np.logspace(-4, 0, 7))
EPS = 1e-2


def adam_copy(tmp_path: Path, new_id: str):
    """adam.py's source with the id changed and the State field v renamed w everywhere,
    imported as a module that is not part of optlab.optimizers."""
    src = Path(adam_module.__file__).read_text()
    assert not re.search(r"\bw\b", src)  # the rename must not collide with a name in use
    src = re.sub(r"\bv\b", "w", src)
    src = src.replace('id="adam"', f'id="{new_id}"').replace(
        'Optimizer("adam"', f'Optimizer("{new_id}"'
    )
    path = tmp_path / f"{new_id}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"plugin_{new_id}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def adam_w(tmp_path, monkeypatch):
    module = adam_copy(tmp_path, "adam_w")
    assert module.State._fields == ("count", "m", "w")
    assert dict(module.ENTRY.state_roles) == {"count": "counter", "w": "nonnegative"}
    monkeypatch.setitem(entries(), "adam_w", module.ENTRY)
    yield module
    sys.modules.pop("plugin_adam_w", None)


def _stability(tmp_path, opt: str):
    config = StabilityConfig(
        problem="quadratic",
        optimizer=opt,
        hyper=(("learning_rate", LRS), ("eps", (EPS,))),
        refine=False,
        out=str(tmp_path / f"stab-{opt}"),
    )
    return api_stability.stability(config)


def test_renamed_copy_of_adam_runs_the_same_numbers(adam_w, tmp_path):
    config = RunConfig(
        problem="rosenbrock",
        optimizers=("adam", "adam_w"),
        hyper=(("learning_rate", (1e-3, 1e-2, 1e-1)),),
        steps=300,
        log_every=10,
        out=str(tmp_path / "run"),
    )
    trace = api.run(config).trace
    numeric = [c for c in trace.columns if trace[c].dtype.kind in "fiub" and c != "run_id"]
    assert {"loss", "x_0", "x_1"} <= set(numeric)
    a = trace[trace.optimizer == "adam"][numeric].to_numpy()
    b = trace[trace.optimizer == "adam_w"][numeric].to_numpy()
    assert a.shape == b.shape and a.shape[0] >= 3 * 30
    np.testing.assert_array_equal(a, b)


def test_renamed_copy_of_adam_gets_the_same_stability_analysis(adam_w, tmp_path):
    ref, copy = _stability(tmp_path, "adam").table, _stability(tmp_path, "adam_w").table
    assert set(ref.status) >= {"stable", "unstable"}  # the grid crosses the boundary
    assert list(copy.status) == list(ref.status)
    for col in ("spectral_radius", "spectral_radius_theory", "eta_c_exact"):
        np.testing.assert_array_equal(copy[col].to_numpy(), ref[col].to_numpy())
    assert (copy.theory == ref.theory).all() and (ref.theory != "").all()


def test_an_optimizer_that_declares_no_roles_is_never_confidently_different(tmp_path, monkeypatch):
    """adam's record with ``state_roles={}``: the step counter is recognised by what the
    step does to it, v gets two-sided quotients where they are finite; every verdict
    equals adam's or is ``undetermined``, never another confident one."""
    bare = dataclasses.replace(entries()["adam"], id="adam_bare", state_roles={})
    monkeypatch.setitem(entries(), "adam_bare", bare)
    ref, res = _stability(tmp_path, "adam"), _stability(tmp_path, "adam_bare")
    for want, got in zip(ref.table.status, res.table.status, strict=True):
        assert got in (want, "undetermined")
    same = (res.table.status == ref.table.status).to_numpy()
    assert same.any()
    np.testing.assert_allclose(
        res.table.spectral_radius.to_numpy()[same],
        ref.table.spectral_radius.to_numpy()[same],
        rtol=1e-12,
    )
    reason = res.table.reason.iloc[0]
    assert "held as the step counter" in reason and "v declares no role" in reason
    assert res.manifest["optimizer"]["state_roles"] == {"count": "counter", "v": "nonnegative"}
