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
from optlab import api, api_stability, registry
from optlab import stability as st
from optlab._jax import jax, jnp
from optlab.config import RunConfig, StabilityConfig
from optlab.optimizers import entries
from optlab.optimizers._entry import STATE_ROLES

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
        hyper=(("learning_rate", LRS), ("eps", (EPS,))),  # eps = 1e-2 for Adam and AdaBound
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


@pytest.mark.parametrize(
    ("oid", "inferred"),
    [
        ("adam", {"count": "counter", "v": "nonnegative"}),
        ("adabound", {"count": "counter", "v": "nonnegative", "base_lr": "constant"}),
    ],
)
def test_an_optimizer_that_declares_no_roles_is_never_confidently_different(
    tmp_path, monkeypatch, oid, inferred
):
    """A record with ``state_roles={}``: the step counter is recognised by what the step
    does to it, v as an accumulator the step keeps >= 0 (one-sided quotients: v = 0 at z*),
    AdaBound's base_lr as a constant no step changes; every verdict equals the declared
    record's or is ``undetermined``, never another confident one."""
    bare = dataclasses.replace(entries()[oid], id=f"{oid}_bare", state_roles={})
    monkeypatch.setitem(entries(), bare.id, bare)
    ref, res = _stability(tmp_path, oid), _stability(tmp_path, bare.id)
    for want, got in zip(ref.table.status, res.table.status, strict=True):
        assert got in (want, "undetermined")
    same = (res.table.status == ref.table.status).to_numpy()
    assert same.all()  # here the inference recovers every declared role
    np.testing.assert_allclose(
        res.table.spectral_radius.to_numpy()[same],
        ref.table.spectral_radius.to_numpy()[same],
        rtol=1e-12,
    )
    reason = res.table.reason.iloc[0]
    assert "held as the step counter" in reason and "v declares no role" in reason
    assert res.manifest["optimizer"]["state_roles"] == inferred


# ---- the record's own contract ------------------------------------------------------------
def _state_of(entry, static=None):
    opt = entry.make(**(static or {}))
    params = {"a": jnp.ones(4), "b": jnp.ones((2, 2))}
    return opt, opt.init(params, opt.hyper)


def _static_variants(entry):
    """The default options and every single choice of each static option."""
    out = [{}]
    for key, choices in entry.static_choices.items():
        out += [{key: c} for c in choices[1:]]
    return out


@pytest.mark.parametrize("oid", sorted(entries()))
def test_state_roles_name_real_state_fields(oid):
    entry = entries()[oid]
    for static in _static_variants(entry):
        opt, state = _state_of(entry, static)
        fields = state._fields
        assert set(entry.state_roles) <= set(fields), (static, fields)
        assert set(entry.state_roles.values()) <= set(STATE_ROLES)
        for name, role in entry.state_roles.items():
            leaves = jax.tree_util.tree_leaves(getattr(state, name))
            if role == "counter":
                (count,) = leaves
                assert jnp.ndim(count) == 0 and jnp.issubdtype(count.dtype, jnp.integer)
            elif role in ("nonnegative", "running_max"):
                assert all(bool(jnp.all(leaf >= 0)) for leaf in leaves), name
    assert isinstance(entry.fixed_point_note, str)
    assert set(entry.symbols) <= set(opt.hyper._fields) and "learning_rate" in entry.symbols


# one of each kind of declared field in the default run (moment, running max, carried
# constant, per-layer moment, additive v); `-m slow` covers every optimizer
QUICK_ROLES = {"adam", "amsgrad", "adabound", "aida_pq", "laida", "yogi"}


@pytest.mark.parametrize(
    "oid",
    [pytest.param(i, marks=() if i in QUICK_ROLES else pytest.mark.slow) for i in entries()],
)
def test_declared_nonnegative_fields_are_kept_nonnegative_by_the_step(oid):
    """What the record declares agrees with what the step does: every field declared
    non-negative (or a running maximum) is one that the role inference, following the
    iteration from the init state with random kicks in x, also finds non-negative."""
    entry = entries()[oid]
    declared = {f for f, r in entry.state_roles.items() if r in ("nonnegative", "running_max")}
    if not declared:
        pytest.skip("no non-negative fields declared")
    problem = registry.get_problem("quadratic", {"gamma": (1.0, 10.0)})
    static = {k: True for k, c in entry.static_choices.items() if True in c}  # all fields on
    opt = entry.make(**static)
    roles, _ = st.infer_roles(problem, opt, np.zeros(2), opt.hyper, {})
    inferred = {f for f, r in roles if r == "nonnegative"}
    held = {f for f, r in entry.state_roles.items() if r == "constant"}
    assert declared - held <= inferred


GAMMA = (1.0, 10.0)
LINEAR_CASES = [
    ("adam[eps_mode=E2]", {"eps": 1e-2}),
    ("adamw", {"eps": 1e-2, "weight_decay": 0.3}),
    *[
        pytest.param(spec, values, marks=pytest.mark.slow)
        for spec, values in (
            ("heavy_ball[nesterov=true]", {"momentum": 0.7, "l2": 0.5}),
            ("adam", {"eps": 1e-2, "l2": 0.5}),
            ("adam[eps_mode=E3]", {"eps": 1e-2}),
            ("adam[eps_mode=E4]", {"eps": 1e-2}),
            ("heavy_ball[dampening=true]", {"momentum": 0.7}),
            ("sgd", {"l2": 0.5}),
            ("aida_pq[form=b]", {"p": 2.0, "q": 1.0, "eps": 1e-4, "mu": 1e-3}),
        )
    ],
]


@pytest.mark.parametrize(("spec", "values"), LINEAR_CASES)
def test_linearisation_equals_the_jacobian_eigenvalues(spec, values):
    """An entry's closed form gives the eigenvalues of the step map's Jacobian at z* (the
    analyzer's, autodiff with one-sided quotients where AD is not finite) at two points."""
    problem = registry.get_problem("quadratic", {"gamma": GAMMA})
    plan = api.plan_optimizer(
        spec, {"learning_rate": [0.01, 1.0]} | {k: [v] for k, v in values.items()}
    )
    ((fixed, idx),) = plan.grid.integer_groups(plan.entry.integer_hypers)
    roles = tuple(sorted(plan.entry.state_roles.items()))
    an = st.Analyzer(problem, plan.opt, np.zeros(2), fixed=fixed, state_roles=roles)
    res = an.run(plan.grid.batch(type(plan.opt.hyper), idx))
    for j, verdict in enumerate(st.verdicts(res, an.layout())):
        hp = dict(zip(plan.grid.names, plan.grid.points[idx[j]], strict=True))
        closed = plan.entry.linearisation(dict(plan.opt.static), hp, np.asarray(GAMMA), True)
        assert closed is not None and verdict.jacobian is not None
        want = np.sort_complex(np.asarray(closed.eigenvalues))
        got = np.sort_complex(np.asarray(verdict.eigenvalues))
        assert want.shape == got.shape
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_linearisation_declines_where_its_theorem_does_not_apply():
    lin = entries()["adam"].linearisation
    hp = {"learning_rate": 0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "l2": 0.0}
    assert lin({"eps_mode": "E5"}, hp, np.ones(1), True) is None  # eps moves the fixed point
    assert lin({"eps_mode": "E1"}, hp | {"eps": 0.0}, np.ones(1), True) is None  # 0/0 at z*
    assert lin({"eps_mode": "E1"}, hp, np.ones(1), False) is None  # z* is not (x*, 0, 0)
    assert entries()["sgd"].linearisation({}, {"learning_rate": 0.1}, np.ones(1), False)


def test_role_inference_tells_accumulators_from_signed_state():
    """For a bare optimizer: rmsprop[centered]'s v (EMA of g^2) is non-negative, its a (EMA
    of g) and momentum buffer are not; the integer count is the counter."""
    problem = registry.get_problem("quadratic", {"gamma": GAMMA})
    opt = entries()["rmsprop"].make(centered=True)
    h = opt.hyper._replace(momentum=0.5)
    roles, notes = st.infer_roles(problem, opt, np.zeros(2), h, {})
    assert dict(roles) == {"count": "counter", "v": "nonnegative"}
    assert len(notes) == 2
