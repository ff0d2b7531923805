"""The optimizer contract (``optlab check ID``): what every optimizer, built-in or plug-in,
must do to get the whole lab. The project's own contract tests call these same functions.

Rows (each passes or fails on its own; one failure does not hide the others):

descends        finite, and f(x_T) < f(x_0), on a convex quadratic with the defaults
zero_gradient   started at the minimiser (every gradient exactly 0): x and state stay finite
state           state tree, shapes and dtypes identical after steps 1 and 2 (float64, float32)
compiles_once   a run over a grid of learning rates is traced once (new values, same program)
vmap            vmap over those grid points equals the separate runs (rtol 1e-12)
pytree          a pytree of leaves with different shapes (a vector, a matrix, a scalar)
float32         float32 parameters (and float state) stay float32
optax           the optlab.optax export equals the native step (rtol 1e-12)
inject          optax.inject_hyperparams(<export>)(learning_rate=...) equals the native run
reference       (with a reference) the user's NumPy transcription, to 1e-10 over 200 steps

The reference function's signature: ``reference(x0, grad, steps, hyper) -> array (steps, d)``
with ``x0`` a float64 vector, ``grad(x, t)`` the gradient at step t = 1..steps (NumPy in,
NumPy out), ``hyper`` the default numeric hyperparameters by name; it returns the iterates
x_1..x_steps. The problem is a convex quadratic with a fixed noise table added to the
gradient (so signs change); the optimizer runs with its default structural options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optlab._jax import jax, jnp
from optlab.errors import UsageError

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

ROWS = {
    "descends": "finite and decreasing on a convex quadratic (defaults)",
    "zero_gradient": "finite when every gradient is zero (started at x*)",
    "state": "state shapes and dtypes stable over steps",
    "compiles_once": "compiles once for a grid of learning rates",
    "vmap": "vmap over 3 grid points equals 3 separate runs",
    "pytree": "works on a pytree of leaves with different shapes",
    "float32": "float32 parameters stay float32",
    "optax": "optax export equals the native step",
    "inject": "optax.inject_hyperparams works",
    "reference": "equals the NumPy reference to 1e-10 over 200 steps",
}


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    passed: bool
    detail: str

    def to_dict(self) -> dict:
        return {
            "check": self.key,
            "title": self.title,
            "passed": self.passed,
            "detail": self.detail,
        }


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


def _error_text(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


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


# ---- the rows -------------------------------------------------------------------------------
def check_descends(lab: Lab) -> str:
    xs, _ = lab.default_run()
    bad = first_bad_step(xs)
    if bad is not None:
        raise Failed(f"not finite from step {bad} (defaults)")
    loss = quadratic(GAMMA)
    f0, ft = float(loss(jnp.asarray(X0))), float(loss(xs[-1]))
    if not ft < f0:
        raise Failed(f"f(x_T) = {ft:.4g} is not below f(x_0) = {f0:.4g} after {STEPS} steps")
    return f"f: {f0:.4g} -> {ft:.4g} in {STEPS} steps"


def check_zero_gradient(lab: Lab) -> str:
    xs, state = lab.run64(jnp.zeros_like(jnp.asarray(X0)), lab.hyper())
    bad = first_bad_step(xs)
    if bad is not None:
        raise Failed(f"x is not finite from step {bad} with g = 0 (started at x* = 0)")
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact) and not all_finite(leaf):
            raise Failed(f"state{jax.tree_util.keystr(path)} is not finite with g = 0")
    return f"{STEPS} steps with g = 0: max |x| = {max(np.abs(v).max() for v in leaves(xs)):.3g}"


def _signature(tree) -> dict:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(p): (tuple(v.shape), np.dtype(v.dtype).name) for p, v in flat}


def _abstract_steps(lab: Lab, dtype, n: int = 2):
    """Shapes and dtypes of (params, state) at step 0, 1, .., n, by abstract evaluation
    (``jax.eval_shape``: nothing is compiled). A generator: a step that fails on what the
    previous one returned is only reached after that one was looked at."""
    opt = lab.opt
    x = tree_as(TREE_X0, dtype)
    h = lab.hyper(dtype)
    g = jax.grad(quadratic(TREE_GAMMA))(x)
    state = jax.eval_shape(opt.init, x, h)
    yield x, state
    for _ in range(n):
        x_new, state = jax.eval_shape(opt.step, x, g, state, h)
        yield x_new, state


def check_state(lab: Lab) -> str:
    for dtype in (jnp.float64, jnp.float32):
        steps = _abstract_steps(lab, dtype)
        first = next(steps)[1]
        struct0 = jax.tree_util.tree_structure(first)
        before = _signature(first)
        for t, (_, state) in enumerate(steps, start=1):
            if jax.tree_util.tree_structure(state) != struct0:
                raise Failed(f"the state's structure changes at step {t}")
            after = _signature(state)
            for name, sig in before.items():
                if after[name] != sig:
                    raise Failed(
                        f"state{name}: {sig[1]}{list(sig[0])} -> {after[name][1]}"
                        f"{list(after[name][0])} at step {t} ({np.dtype(dtype).name} params)"
                    )
    return f"{len(before)} leaves, float64 and float32"


def check_compiles_once(lab: Lab) -> str:
    lab.grid_runs()
    calls = 1 + len(LR_FACTORS)
    if lab.traces != 1:
        raise Failed(
            f"traced {lab.traces} times for {calls} runs that differ only in {lab.grid_key} "
            "(new values must not recompile)"
        )
    return f"1 trace for {calls} runs ({lab.grid_key} x {', '.join(map(str, LR_FACTORS))})"


def check_vmap(lab: Lab) -> str:
    singles = lab.grid_runs()
    hypers = [lab.hyper(**{lab.grid_key: v}) for v in lab.grid()]
    batch = jax.tree_util.tree_map(lambda *v: jnp.stack(v), *hypers)
    xs_batched, _ = jax.jit(jax.vmap(lab._raw, in_axes=(None, 0)))(jnp.asarray(X0), batch)
    worst = 0.0
    for i, (xs, _) in enumerate(singles):
        ok, err = close(np.asarray(xs_batched)[i], xs, 1e-12, ATOL)
        worst = max(worst, err)
        if not ok:
            raise Failed(f"grid point {i} differs from its separate run by {err:.3g}")
    return f"max |difference| {worst:.3g} over {len(singles)} points x {STEPS} steps"


def check_pytree(lab: Lab) -> str:
    loss = quadratic(TREE_GAMMA)
    x0 = tree_as(TREE_X0, jnp.float64)
    xs, _ = jax.jit(trajectory_fn(lab.opt, loss, STEPS))(x0, lab.hyper())
    final = jax.tree_util.tree_map(lambda v: v[-1], xs)
    if _signature(final) != _signature(x0):
        raise Failed(f"returned {_signature(final)} for parameters {_signature(x0)}")
    bad = first_bad_step(xs)
    if bad is not None:
        raise Failed(f"not finite from step {bad}")
    f0, ft = float(loss(x0)), float(loss(final))
    if not ft < f0:
        raise Failed(f"f(x_T) = {ft:.4g} is not below f(x_0) = {f0:.4g}")
    shapes = ", ".join(str(tuple(np.shape(v))) for v in jax.tree_util.tree_leaves(x0))
    return f"leaves {shapes}: f {f0:.4g} -> {ft:.4g}"


def check_float32(lab: Lab) -> str:
    steps = _abstract_steps(lab, jnp.float32)
    next(steps)
    for t, (x, state) in enumerate(steps, start=1):
        for name, (_, dtype) in _signature(x).items():
            if dtype != "float32":
                raise Failed(f"parameter {name} becomes {dtype} at step {t}")
        for name, (_, dtype) in _signature(state).items():
            if dtype.startswith("float") and dtype != "float32":
                raise Failed(f"state{name} is {dtype} with float32 parameters (step {t})")
    return "parameters and float state stay float32"


def _optax_trajectory(tx, steps: int) -> np.ndarray:
    """x_1..x_steps of an optax transformation on the quadratic, step by step (eager: a
    few steps cost less than compiling)."""
    import optax

    grad = jax.grad(quadratic(GAMMA))
    x = jnp.asarray(X0)
    out = []
    with jax.numpy_dtype_promotion("standard"):  # optax itself is not strict-clean
        state = tx.init(x)
        for _ in range(steps):
            updates, state = tx.update(grad(x), state, x)
            x = optax.apply_updates(x, updates)
            out.append(np.asarray(x))
    return np.stack(out)


def _compare_optax(got, xs, what: str) -> str:
    want = np.asarray(xs)[:OPTAX_STEPS]
    ok, err = close(got, want, 1e-12, ATOL)
    if not ok:
        raise Failed(f"{what} differs from the native step by {err:.3g} within {OPTAX_STEPS} steps")
    return f"max |difference| {err:.3g} over {OPTAX_STEPS} steps"


def check_optax(lab: Lab) -> str:
    from optlab.optax import from_entry

    got = _optax_trajectory(from_entry(lab.entry)(), OPTAX_STEPS)
    return _compare_optax(got, lab.default_run()[0], "the optax export")


def check_inject(lab: Lab) -> str:
    import optax

    from optlab.optax import from_entry

    value = lab.grid()[-1]
    with jax.numpy_dtype_promotion("standard"):
        tx = optax.inject_hyperparams(from_entry(lab.entry))(**{lab.grid_key: value})
    got = _optax_trajectory(tx, OPTAX_STEPS)
    detail = _compare_optax(got, lab.grid_runs()[-1][0], "inject_hyperparams")
    return f"{lab.grid_key}={value:g}: {detail}"


def reference_problem():
    """The reference run's gradient: gamma * x plus a fixed noise table (signs change)."""
    noise = np.random.default_rng(0).normal(scale=0.3, size=(REFERENCE_STEPS, X0.size))

    def grad(x, t):
        return GAMMA * np.asarray(x, np.float64) + noise[t - 1]

    return noise, grad


def check_reference(lab: Lab, reference: Callable) -> str:
    noise, grad = reference_problem()
    run = jax.jit(trajectory_fn(lab.opt, quadratic(GAMMA), REFERENCE_STEPS, jnp.asarray(noise)))
    xs, _ = run(jnp.asarray(X0), lab.hyper())
    hyper = {k: float(v) for k, v in lab.opt.hyper._asdict().items()}
    want = np.asarray(reference(X0.copy(), grad, REFERENCE_STEPS, hyper), np.float64)
    if want.shape != (REFERENCE_STEPS, X0.size):
        raise Failed(f"the reference returned shape {want.shape}, not {(REFERENCE_STEPS, X0.size)}")
    ok, err = close(np.asarray(xs), want, REFERENCE_TOL, REFERENCE_TOL)
    if not ok:
        diff = np.abs(np.asarray(xs) - want) > REFERENCE_TOL * (1 + np.abs(want))
        step = int(np.argmax(diff.any(axis=1))) + 1
        raise Failed(f"differs from the reference by {err:.3g} (first at step {step})")
    return f"max |difference| {err:.3g} over {REFERENCE_STEPS} steps"


CHECKS: dict[str, Callable[[Lab], str]] = {
    "descends": check_descends,
    "zero_gradient": check_zero_gradient,
    "state": check_state,
    "compiles_once": check_compiles_once,
    "vmap": check_vmap,
    "pytree": check_pytree,
    "float32": check_float32,
    "optax": check_optax,
    "inject": check_inject,
}


def run_row(lab: Lab, key: str, fn: Callable[[Lab], str]) -> Row:
    try:
        return Row(key, ROWS[key], True, fn(lab))
    except Failed as finding:
        return Row(key, ROWS[key], False, str(finding))
    except Exception as err:  # noqa: BLE001 - the optimizer's own error is the finding
        return Row(key, ROWS[key], False, _error_text(err))


def check_entry(entry, reference: Callable | None = None, only=None) -> list[Row]:
    """Every row of the contract for one ``OptimizerEntry`` (``only``: a subset of keys)."""
    lab = Lab(entry)
    rows = [run_row(lab, k, fn) for k, fn in CHECKS.items() if only is None or k in only]
    if reference is not None:
        rows.append(run_row(lab, "reference", lambda lab: check_reference(lab, reference)))
    return rows


def load_reference(spec: str) -> Callable:
    """``FILE.py:FUNC`` -> the function (a UsageError naming the file when it is not there)."""
    from optlab.plugins import import_file

    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise UsageError(f"--reference {spec!r}: expected FILE.py:FUNCTION")
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise UsageError(f"--reference {path}: no such file")
    module, _ = import_file(resolved)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise UsageError(f"--reference {resolved}: no function {name!r}")
    return fn
