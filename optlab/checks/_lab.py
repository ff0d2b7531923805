"""The shared set-up of the contract rows: the problems, the runs (one program per
structure, traced on demand) and the comparisons."""

from __future__ import annotations

import numpy as np

from optlab._jax import jax, jnp

STEPS = 300  # steps of the runs that share one program
OPTAX_STEPS = 20  # eager optax steps compared with the native run
REFERENCE_STEPS = 200
REFERENCE_TOL = 1e-10
# agreement of two computations of the same run: relative 1e-12, absolute 1e-12 x the scale
# of x0 (near 0, x + (x_new - x) or a differently fused batched program rounds differently)
ATOL = 1e-12 * 2.0
LR_FACTORS = (0.5, 1.0, 2.0)  # the learning-rate grid, relative to the default
GAMMA = np.array([1.0, 3.0, 10.0, 0.5, 2.0])  # the convex quadratic 1/2 sum gamma_i x_i^2
X0 = np.array([1.0, -0.5, 0.25, 2.0, -1.0])
TREE_GAMMA = {"a": np.array([1.0, 3.0, 10.0]), "b": np.array([[2.0, 0.5], [4.0, 1.0]]), "c": 5.0}
TREE_X0 = {"a": np.array([1.0, -0.5, 0.25]), "b": np.array([[0.3, -1.0], [0.7, 0.2]]), "c": 0.8}


class Failed(Exception):
    """A check's finding (as opposed to an error raised by the optimizer's code)."""


def quadratic(gamma):
    """1/2 sum gamma x^2 over the leaves of a pytree shaped like ``gamma``."""
    gamma = jax.tree_util.tree_map(jnp.asarray, gamma)

    def loss(x):
        terms = jax.tree_util.tree_map(lambda g, v: jnp.sum(g.astype(v.dtype) * v * v), gamma, x)
        return 0.5 * sum(jax.tree_util.tree_leaves(terms))

    return loss


def hyper_of(opt, dtype, **overrides):
    """The optimizer's numeric hyperparameters as arrays of ``dtype`` (as the runner passes
    them), with some values replaced."""
    h = opt.hyper._replace(**overrides)
    return type(h)(*(jnp.asarray(v, dtype) for v in h))


def tree_as(tree, dtype):
    return jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype), tree)


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(tree)]


def all_finite(tree) -> bool:
    return all(np.all(np.isfinite(v)) for v in leaves(tree) if np.issubdtype(v.dtype, np.inexact))


# ---- the shared runs ------------------------------------------------------------------------
def _keep_dtypes(new, old):
    """``new`` cast to ``old``'s dtypes: a state whose dtype drifts (the ``state`` row's
    finding) must not stop the other rows from running. A changed structure still fails."""
    return jax.tree_util.tree_map(lambda n, o: jnp.asarray(n).astype(jnp.result_type(o)), new, old)


def trajectory_fn(opt, loss, steps: int, noise=None):
    """(x0, hyper) -> (x_1..x_steps stacked, final state): ``steps`` optimizer steps on the
    gradient of ``loss`` (plus ``noise[t-1]`` at step t when given)."""
    grad = jax.grad(loss)

    def run(x0, hyper):
        def body(carry, n_t):
            x, s = carry
            g = grad(x) if n_t is None else grad(x) + n_t
            x_new, s_new = opt.step(x, g, s, hyper)
            return (_keep_dtypes(x_new, x), _keep_dtypes(s_new, s)), x_new

        s0 = opt.init(x0, hyper)
        (_, s), xs = jax.lax.scan(
            body, (x0, s0), noise, length=None if noise is not None else steps
        )
        return xs, s

    return run


class Lab:
    """What the rows of one check share: the optimizer, its runs (computed once, on demand)
    and ``traces``, the number of times the float64 program was traced, counted by this
    check alone (no module state)."""

    def __init__(self, entry):
        self.entry = entry
        self.opt = entry.make()
        fields = self.opt.hyper._fields
        self.grid_key = "learning_rate" if "learning_rate" in fields else fields[0]
        self.traces = 0
        self._raw = trajectory_fn(self.opt, quadratic(GAMMA), STEPS)
        self._cache: dict = {}

        def counted(x0, hyper):
            self.traces += 1
            return self._raw(x0, hyper)

        self.run64 = jax.jit(counted)

    def cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def hyper(self, dtype=jnp.float64, **overrides):
        return hyper_of(self.opt, dtype, **overrides)

    def default_run(self):
        return self.cached("default", lambda: self.run64(jnp.asarray(X0), self.hyper()))

    def grid(self) -> list[float]:
        base = float(getattr(self.opt.hyper, self.grid_key))
        return [base * f for f in LR_FACTORS]

    def grid_runs(self):
        """The default run, then one run per grid point (same program: one trace)."""

        def compute():
            self.default_run()
            x0 = jnp.asarray(X0)
            return [self.run64(x0, self.hyper(**{self.grid_key: v})) for v in self.grid()]

        return self.cached("grid", compute)

    def run_all_changed(self) -> None:
        """One more run with every numeric hyperparameter changed (its numbers are not
        looked at: only whether it needs a new program)."""
        changed = {k: float(v) * 1.01 + 1e-3 for k, v in self.opt.hyper._asdict().items()}
        self.cached("changed", lambda: self.run64(jnp.asarray(X0), self.hyper(**changed)))


def close(a, b, rtol: float, atol: float) -> tuple[bool, float]:
    """Whether |a - b| <= rtol |b| + atol everywhere, and the largest |a - b|."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False, float("inf")
    err = np.abs(a - b)
    bad = ~(err <= rtol * np.abs(b) + atol)  # NaN counts as bad
    return not bad.any(), float(np.nanmax(err)) if err.size else 0.0


def first_bad_step(xs) -> int | None:
    """The first step (1-based) at which a leaf of the stacked iterates is not finite."""
    ok = np.ones(len(leaves(xs)[0]), bool)
    for v in leaves(xs):
        ok &= np.all(np.isfinite(v.reshape(len(v), -1)), axis=1)
    return None if ok.all() else int(np.argmin(ok)) + 1
