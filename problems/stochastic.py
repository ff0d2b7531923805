"""Stochastic problems: the noisy quadratic models and Chen et al.'s finite sum.

Conventions shared by the three records (docs/architecture.md#runner,
docs/problems.md#noisy-quadratic-models, #chen):

* ``sample(key, t)`` draws the batch for step t from ``key`` alone (``t`` is unused: the
  runner's ``key_t = fold_in(fold_in(root, seed), t)`` already depends on it), so every
  optimizer in a seed sees the same noise (common random numbers).
* ``loss(x, batch)`` is what gradients are taken of; ``loss(x, None)`` is its expectation
  over batches (the noiseless loss whose gradient is E[stochastic gradient]).
* ``objective(x)`` is the deterministic metric the runner reports. For the NQMs it is the
  *excess* population loss 1/2 sum h_i x_i^2 (f* = 0); for Chen it is the finite sum
  f = sum_i l_i (f* = 0), which is 11 times the expected sampled component.
* Constants are cast to ``x.dtype`` inside losses (float32 runs stay float32).
"""

from __future__ import annotations

import numpy as np

from optlab._jax import jax, jnp
from problems.spec import Problem, ProblemEntry

MAXVA = (
    "Zhu et al., MaxVA (arXiv:2006.11918) section 4.2, App. F, Eq. 12; code zhuchen03/MaxVA nqm.py"
)
ZHANG = (
    "Zhang et al., Which Algorithmic Choices Matter at Which Batch Sizes? (NeurIPS 2019, "
    "arXiv:1907.04164), the noisy quadratic model with C = H, h_i = 1/i"
)
CHEN = (
    "Chen, Liu, Sun, Hong, ICLR 2019 (arXiv:1808.02941); MaxVA (Zhu et al., arXiv:2006.11918) "
    "section 4.1, "
    "App. E, Eq. 11; code zhuchen03/MaxVA nonconvex_average.py"
)
N_COMPONENTS = 11
CHEN_SUCCESS_RADIUS = 0.1


def _floats(value, what: str) -> np.ndarray:
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=np.float64)).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"nqm: {what} must be a number or a list of numbers") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"nqm: {what} must be finite numbers, got {value!r}")
    return arr


def _curvatures(h, dim: int | None) -> np.ndarray:
    if isinstance(h, str):  # "inverse" (with dim) or "inverse:d": h_i = 1/i, i = 1..d
        name, _, size = h.partition(":")
        if name != "inverse" or (size and not size.isdigit()):
            raise ValueError(f"nqm: h must be numbers, 'inverse' or 'inverse:d', got {h!r}")
        n = int(size) if size else dim
        if n is None:
            raise ValueError("nqm: h='inverse' needs dim (or write h='inverse:d')")
        return 1.0 / np.arange(1, int(n) + 1, dtype=np.float64)
    return _floats(h, "h")


def _fit(arr: np.ndarray, dim: int, what: str) -> np.ndarray:
    if arr.size == 1:
        return np.full(dim, float(arr[0]))
    if arr.size != dim:
        raise ValueError(f"nqm: {what} has {arr.size} values for dim={dim}")
    return arr


def make_nqm(h=(1.0, 20.0), sigma=0.2, dim: int | None = None) -> Problem:
    """MaxVA's noisy quadratic model (docs/problems.md#nqm).

    Data x ~ N(0, diag sigma^2); sampled loss 1/2 sum h_i (theta_i - x_i)^2, whose gradient
    is Eq. 12, g_i = h_i (theta_i - sigma_i eps_i). Population loss
    1/2 sum h theta^2 + 1/2 sum h sigma^2; the objective is the excess part (f* = 0).
    """
    hv = _curvatures(h, dim)
    sv = _floats(sigma, "sigma")
    d = int(dim) if dim is not None else max(hv.size, sv.size)
    if d < 1:
        raise ValueError("nqm: dim must be >= 1")
    hv, sv = _fit(hv, d, "h"), _fit(sv, d, "sigma")
    if np.any(hv <= 0):
        raise ValueError("nqm: every h must be > 0")
    if np.any(sv < 0):
        raise ValueError("nqm: every sigma must be >= 0")
    offset = float(0.5 * np.sum(hv * sv * sv))
    H, S = jnp.asarray(hv), jnp.asarray(sv)

    def objective(x):
        return 0.5 * jnp.sum(H.astype(x.dtype) * x * x, axis=-1)

    def loss(x, batch=None):
        if batch is None:
            return objective(x) + offset
        r = x - jnp.asarray(batch).astype(x.dtype)
        return 0.5 * jnp.sum(H.astype(x.dtype) * r * r, axis=-1)

    def sample(key, t):
        del t
        return S * jax.random.normal(key, (d,), dtype=S.dtype)

    def init(key):
        return jax.random.normal(key, (d,), dtype=jnp.float64)

    return Problem(
        name="nqm",
        loss=loss,
        x0=jnp.ones(d),
        objective=objective,
        x_star=jnp.zeros(d),
        f_star=0.0,
        f_star_kind="global",
        sample=sample,
        plot_box=(-3.0, 3.0, -3.0, 3.0) if d == 2 else None,
        tags=frozenset({"stochastic", "convex", "quadratic", "nqm"}),
        reference=MAXVA,
        init=init,
        metrics=("loss", "dist"),
        notes=(
            "objective = EXCESS population loss 1/2 sum h theta^2 (f* = 0); the population "
            f"loss adds loss_offset = 1/2 sum h sigma^2 = {offset:.6g}, which is also "
            "E[loss(x, batch)] - objective(x). Start theta_0 ~ N(0, I) from init(key) per seed "
            "(x0 = ones is only a deterministic fallback). Gradient noise comes from key_t, "
            "so it is shared by all optimizers of a seed (MaxVA's code shares only theta_0)."
        ),
        options={
            "h": tuple(hv.tolist()),
            "sigma": tuple(sv.tolist()),
            "dim": d,
            "noise_model": "maxva",
            "loss_offset": offset,
            "objective": "excess",
        },
    )


def make_nqm_zhang(dim: int = 10_000, batch_size: int = 1) -> Problem:
    """Zhang et al.'s noisy quadratic model (docs/problems.md#nqm_zhang), C = H, h_i = 1/i.

    Sampled loss 1/2 theta^T H theta + eps^T theta with eps ~ N(0, C/B), so the gradient
    is H theta + eps; E[loss] = objective = 1/2 theta^T H theta (f* = 0).
    """
    d, B = int(dim), int(batch_size)
    if d < 1:
        raise ValueError("nqm_zhang: dim must be >= 1")
    if B < 1:
        raise ValueError("nqm_zhang: batch_size must be >= 1")
    hv = 1.0 / np.arange(1, d + 1, dtype=np.float64)
    H = jnp.asarray(hv)
    noise_std = jnp.asarray(np.sqrt(hv / B))  # c_i = h_i

    def objective(x):
        return 0.5 * jnp.sum(H.astype(x.dtype) * x * x, axis=-1)

    def loss(x, batch=None):
        if batch is None:
            return objective(x)
        return objective(x) + jnp.sum(jnp.asarray(batch).astype(x.dtype) * x, axis=-1)

    def sample(key, t):
        del t
        return noise_std * jax.random.normal(key, (d,), dtype=noise_std.dtype)

    def init(key):
        return jax.random.normal(key, (d,), dtype=jnp.float64)

    return Problem(
        name="nqm_zhang",
        loss=loss,
        x0=jnp.ones(d),
        objective=objective,
        x_star=jnp.zeros(d),
        f_star=0.0,
        f_star_kind="global",
        sample=sample,
        plot_box=(-3.0, 3.0, -3.0, 3.0) if d == 2 else None,
        tags=frozenset({"stochastic", "convex", "quadratic", "nqm"}),
        reference=ZHANG,
        init=init,
        metrics=("loss",),
        notes=(
            "objective = 1/2 theta^T H theta (excess = population loss here, f* = 0). "
            "Minibatch noise drawn directly as N(0, C/B) (the mean of B draws has that law). "
            "Start theta_0 ~ N(0, I) from init(key) per seed (lab choice; the paper's start "
            "is not restated in docs/problems.md); x0 = ones is only a deterministic fallback. "
            "Primary metric: steps to reach a target loss vs batch_size."
        ),
        options={
            "dim": d,
            "batch_size": B,
            "h": "inverse",
            "noise_model": "zhang",
            "objective": "excess",
        },
    )


def _chen_components(theta):
    """(l_1, l_i for i >= 2) of Eq. 11; both branches of each ``where`` are finite."""
    inside = jnp.abs(theta) <= 1.0
    first = jnp.where(inside, 5.5 * theta * theta, 11.0 * jnp.abs(theta) - 5.5)
    other = jnp.where(inside, -0.5 * theta * theta, 0.5 - jnp.abs(theta))
    return first, other


def chen_success(x):
    """Chen et al.'s criterion: |theta_T| < 0.1 (x is the final iterate, shape (..., 1))."""
    return np.abs(np.asarray(x)[..., 0]) < CHEN_SUCCESS_RADIUS


def make_chen() -> Problem:
    """Chen et al.'s finite sum of 11 one-dimensional components (docs/problems.md#chen).

    Batch = component index i in {0, ..., 10} (0 is l_1 = 5.5 theta^2 inside [-1, 1]; 1..10
    are the concave -0.5 theta^2), uniform. The objective is the sum (a Huber function).
    """

    def objective(x):
        first, other = _chen_components(x[..., 0])
        return first + (N_COMPONENTS - 1) * other

    def loss(x, batch=None):
        first, other = _chen_components(x[..., 0])
        if batch is None:
            return (first + (N_COMPONENTS - 1) * other) / N_COMPONENTS
        return jnp.where(jnp.asarray(batch) == 0, first, other)

    def sample(key, t):
        del t
        return jax.random.randint(key, (), 0, N_COMPONENTS)

    return Problem(
        name="chen",
        loss=loss,
        x0=jnp.asarray([2.0]),
        objective=objective,
        x_star=jnp.zeros(1),
        f_star=0.0,
        f_star_kind="global",
        sample=sample,
        tags=frozenset({"stochastic", "finite-sum", "counterexample", "loglog"}),
        reference=CHEN,
        metrics=("loss", "S1", "S2"),
        success=chen_success,
        notes=(
            "objective f = sum of the 11 components = 1/2 theta^2 (|theta| <= 1), |theta| - 1/2 "
            "otherwise; the optimizer sees the gradient of ONE uniformly drawn component, so "
            "E[grad] = f'/11. Success (the record's success): |theta_T| < 0.1 = "
            "options success_radius. Diagnostics S1 = sum ||g_t/sqrt(v_t)||^2 and "
            "S2 = sum ||1/sqrt(v_t) - 1/sqrt(v_{t-1})||_1 are optimizer-state quantities "
            "(docs/problems.md#chen). Protocol: T = 1e5, 100 trials."
        ),
        options={
            "n_components": N_COMPONENTS,
            "success_radius": CHEN_SUCCESS_RADIUS,
            "diagnostics": ("S1", "S2"),
            "steps": 100_000,
            "trials": 100,
        },
    )


ENTRIES = [
    ProblemEntry(
        id="nqm",
        make=make_nqm,
        summary="MaxVA's noisy quadratic: g = h (theta - sigma eps), h = (1, 20), sigma = 0.2",
        defaults={"h": (1.0, 20.0), "sigma": 0.2, "dim": None},
        tags=frozenset({"stochastic", "convex", "quadratic", "nqm"}),
    ),
    ProblemEntry(
        id="nqm_zhang",
        make=make_nqm_zhang,
        summary="Zhang et al.'s noisy quadratic: h_i = 1/i, noise N(0, H/B), d = 1e4",
        defaults={"dim": 10_000, "batch_size": 1},
        tags=frozenset({"stochastic", "convex", "quadratic", "nqm"}),
    ),
    ProblemEntry(
        id="chen",
        make=make_chen,
        summary="Chen et al.'s 11-component finite sum (Huber objective), theta_0 = 2",
        defaults={},
        tags=frozenset({"stochastic", "finite-sum", "counterexample", "loglog"}),
    ),
]
