"""The multi-leaf problems: a teacher-student MLP and l2-regularised logistic regression."""

from __future__ import annotations

import numpy as np
import pytest

from optlab import api
from optlab._jax import jax, jnp
from optlab.config import RunConfig, StabilityConfig
from optlab.metrics import flatten
from problems import get_problem


def _flat(problem_name, **options):
    return get_problem(problem_name, layout="flat", **options)


@pytest.mark.parametrize("name", ["mlp", "logistic"])
def test_gradient_matches_central_differences(name):
    p = _flat(name)
    rng = np.random.default_rng(1)
    x = jnp.asarray(np.asarray(p.x0) + 0.3 * rng.standard_normal(p.dim))
    g = np.asarray(jax.grad(p.value)(x))
    for _ in range(3):
        d = rng.standard_normal(p.dim)
        d /= np.linalg.norm(d)
        h = 1e-5
        fd = (p.value(x + h * d) - p.value(x - h * d)) / (2 * h)
        assert float(fd) == pytest.approx(float(g @ d), rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("name", ["mlp", "logistic"])
def test_tree_and_flat_layouts_are_the_same_function(name):
    tree, flat = get_problem(name), _flat(name)
    assert tree.dim == flat.dim
    np.testing.assert_array_equal(np.asarray(flatten(tree.x_star)), np.asarray(flat.x_star))
    assert float(tree.value(tree.x0)) == float(flat.value(flat.x0))


def test_mlp_teacher_is_a_global_minimiser_and_layers_are_leaves():
    p = get_problem("mlp", width=5, depth=3)
    assert p.f_star == 0.0 and float(p.value(p.x_star)) <= 1e-30  # 0 up to rounding
    assert float(p.value(p.x0)) > 1e-3
    leaves = jax.tree_util.tree_leaves(p.x_star)
    assert len(leaves) == 2 * 4  # a weight and a bias per layer (3 hidden + output)
    assert p.dim == 4 * 5 + 5 + 2 * (5 * 5 + 5) + 5 * 1 + 1


def test_mlp_minibatches_are_deterministic_and_unbiased():
    p = get_problem("mlp", samples=32, batch=4)
    k = jax.random.PRNGKey(3)
    np.testing.assert_array_equal(p.sample(k, 1), p.sample(k, 7))
    assert not np.array_equal(p.sample(k, 1), p.sample(jax.random.PRNGKey(4), 1))
    x = p.init(jax.random.PRNGKey(0))
    one_each = [float(p.loss(x, jnp.asarray([i]))) for i in range(32)]
    assert np.mean(one_each) == pytest.approx(float(p.value(x)), rel=1e-12)
    np.testing.assert_array_equal(flatten(p.init(k)), flatten(p.init(k)))


def test_logistic_newton_minimiser():
    p = get_problem("logistic")
    g = flatten(jax.grad(p.value)(p.x_star))
    assert float(jnp.linalg.norm(g)) < 1e-13
    assert float(p.value(p.x_star)) == pytest.approx(p.f_star, abs=1e-15)
    rng = np.random.default_rng(0)
    flat = _flat("logistic")
    for _ in range(5):
        assert float(flat.value(flat.x_star + 1e-3 * rng.standard_normal(6))) > p.f_star


@pytest.mark.parametrize("spec", ["mlp[width=4,samples=64]", "logistic[batch=8]"])
def test_multileaf_problems_run_through_the_runner(tmp_path, spec):
    res = api.run(
        RunConfig(
            problem=spec,
            optimizers=("adam", "aida_k"),
            hyper=(("learning_rate", (0.05,)),),
            steps=300,
            log_every=10,
            record_x=True,
            out=str(tmp_path / "r"),
        )
    )
    runs = res.runs
    assert not runs.diverged.any()
    assert np.all(runs.final_dist < runs.final_dist.max() + 1) and runs.final_dist.notna().all()
    assert "steps_grad_norm_1e-1" in runs.columns and "steps_dist_1e-1" in runs.columns
    assert (runs.final_loss < res.trace[res.trace.step == 0].loss.to_numpy()).all()
    assert "x_0" in res.trace.columns  # the parameters recorded as one flat vector


def test_stability_analyzer_on_the_flat_layout(tmp_path):
    from optlab import api_stability

    cfg = StabilityConfig(
        problem="logistic[layout=flat]",
        optimizer="heavy_ball",
        hyper=(("learning_rate", (1e-2, 1e3)),),
        refine=False,
        out=str(tmp_path / "s"),
    )
    table = api_stability.stability(cfg).table
    assert table["status"].tolist() == ["stable", "unstable"]
