"""Reddi et al.'s counterexamples to Adam (ICLR 2018), docs/problems.md#reddi-counterexamples.

All three are one-dimensional linear losses f_t(x) = g_t x on the feasible set [-1, 1]
(``project`` clips after every optimizer step), with a positive average gradient, so the
comparator / minimiser is x* = -1 for every horizon.

* ``sample(key, t)`` returns the coefficient g_t (a scalar): for ``reddi_online`` and
  ``reddi_thm1`` a function of t alone (``big`` when t mod period = 1, else ``small``;
  t = 1, 2, ... as the runner counts), for ``reddi_stochastic`` a Bernoulli(p) draw from
  the key.
* ``loss(x, g) = g x`` is both what gradients are taken of and the online loss f_t used
  for regret: R_T = sum_{t=1}^T [loss(x_t, g_t) - loss(x*, g_t)] = sum g_t (x_t + 1),
  where x_t is the iterate the t-th gradient is taken at (x_1 = x0). The runner records
  it for every problem tagged "online" (``regret``, ``avg_regret``) from ``loss`` and
  ``x_star``; ``options["comparator"]`` repeats x* for readers of the manifest.
* ``objective(x)`` is the AVERAGE loss: the per-period mean for the periodic sequences,
  the expectation for the stochastic one, i.e. gbar x with gbar = options["mean_gradient"];
  f* = -gbar at x* = -1 (a constrained minimum: the gradient there is gbar, not 0).
  ``loss(x, None)`` is the same average.
"""

from __future__ import annotations

from optlab._jax import jax, jnp
from problems.spec import Problem, ProblemEntry

REDDI = "Reddi, Kale, Kumar, On the Convergence of Adam and Beyond, ICLR 2018 (arXiv:1904.09237)"
LOWER, UPPER = -1.0, 1.0


def clip_feasible(x):
    """Euclidean projection onto F = [-1, 1] (in 1-D the weighted projection is the same)."""
    return jnp.clip(x, LOWER, UPPER)


def _start(x0, pid: str) -> float:
    v = float(x0)
    if not LOWER <= v <= UPPER:
        raise ValueError(f"{pid}: x0 must lie in the feasible set [-1, 1], got {v}")
    return v


def _record(
    pid: str,
    sample,
    gbar: float,
    x0: float,
    *,
    tags: set[str],
    metrics: tuple[str, ...],
    reference: str,
    notes: str,
    options: dict,
) -> Problem:
    def loss(x, batch=None):
        g = gbar if batch is None else jnp.asarray(batch).astype(x.dtype)
        return jnp.sum(g * x, axis=-1)

    def objective(x):
        return jnp.sum(gbar * x, axis=-1)

    return Problem(
        name=pid,
        loss=loss,
        x0=jnp.asarray([x0]),
        objective=objective,
        x_star=jnp.asarray([-1.0]),
        f_star=-gbar,
        f_star_kind="global",
        sample=sample,
        project=clip_feasible,
        tags=frozenset({"online", "convex", "constrained", "counterexample", *tags}),
        reference=reference,
        metrics=metrics,
        notes=notes,
        options={
            **options,
            "x0": x0,
            "mean_gradient": gbar,
            "feasible_set": (LOWER, UPPER),
            "regret": True,
            "comparator": (-1.0,),
            "objective": "average",
        },
    )


def _periodic(period: int, big: float, small: float):
    def sample(key, t):
        del key
        return jnp.where(jnp.asarray(t) % period == 1, big, small)

    return sample


def make_online(period: int = 101, big: float = 1010.0, small: float = -10.0, x0: float = 0.0):
    """Section 5 experiment: f_t(x) = 1010 x if t mod 101 = 1, else -10 x."""
    period, big, small = int(period), float(big), float(small)
    if period < 2:
        raise ValueError("reddi_online: period must be >= 2")
    gbar = (big + (period - 1) * small) / period
    if not gbar > 0:
        raise ValueError(
            "reddi_online: big + (period - 1) * small must be > 0 (so that x* = -1), "
            f"got {big} + {period - 1} * {small}"
        )
    return _record(
        "reddi_online",
        _periodic(period, big, small),
        gbar,
        _start(x0, "reddi_online"),
        tags=set(),
        metrics=("avg_regret", "x_0"),
        reference=f"{REDDI}, section 5, Fig. 1 (online)",
        notes=(
            f"g_t = {big:g} if t mod {period} = 1 else {small:g} (t = 1, 2, ...); per period "
            f"the gradients sum to {big + (period - 1) * small:g} > 0, so x* = -1. objective = "
            "per-period average loss. Primary metrics: average regret R_t/t against the "
            "comparator x* = -1 and the iterate x_t. Lab defaults "
            "(docs/problems.md#reddi-counterexamples): "
            "alpha_t = 0.5/sqrt(t), T = 1e6, x_1 = 0 (the theorems use x_1 = 1); Adam and "
            "AMSGrad with b1 = 0.9, b2 = 0.99."
        ),
        options={
            "period": period,
            "big": big,
            "small": small,
            "suggested_hyper": {"learning_rate": 0.5, "b1": 0.9, "b2": 0.99},
            "suggested_schedule": "inv_sqrt",
            "steps": 1_000_000,
        },
    )


def make_stochastic(p: float = 0.01, big: float = 1010.0, small: float = -10.0, x0: float = 0.0):
    """Section 5 experiment: f_t(x) = 1010 x with probability 0.01, else -10 x."""
    p, big, small = float(p), float(big), float(small)
    if not 0.0 < p < 1.0:
        raise ValueError(f"reddi_stochastic: p must be in (0, 1), got {p}")
    gbar = p * big + (1.0 - p) * small
    if not gbar > 0:
        raise ValueError(
            f"reddi_stochastic: p * big + (1 - p) * small must be > 0 (so that x* = -1), got {gbar}"
        )

    def sample(key, t):
        del t
        return jnp.where(jax.random.bernoulli(key, p), big, small)

    return _record(
        "reddi_stochastic",
        sample,
        gbar,
        _start(x0, "reddi_stochastic"),
        tags={"stochastic"},
        metrics=("x_0", "avg_regret"),
        reference=f"{REDDI}, section 5, Fig. 1 (stochastic); Theorem 3",
        notes=(
            f"g_t = {big:g} with probability {p:g} else {small:g}, drawn from key_t; "
            f"E g = {gbar:.6g} > 0, so x* = -1 and f* = E f(-1) = {-gbar:.6g}. objective = "
            "expected loss. Primary metrics: x_t and average regret R_t/t (realised losses) "
            "against x* = -1. Lab defaults as reddi_online."
        ),
        options={
            "p": p,
            "big": big,
            "small": small,
            "suggested_hyper": {"learning_rate": 0.5, "b1": 0.9, "b2": 0.99},
            "suggested_schedule": "inv_sqrt",
            "steps": 1_000_000,
        },
    )


def make_thm1(C: float = 3.0, x0: float = 1.0):
    """Theorem 1: f_t(x) = C x if t mod 3 = 1, else -x, with C > 2."""
    C = float(C)
    if not C > 2:
        raise ValueError(f"reddi_thm1: C must be > 2, got {C}")
    b2 = 1.0 / (1.0 + C * C)
    alpha_max = (1.0 - b2) ** 0.5
    return _record(
        "reddi_thm1",
        _periodic(3, C, -1.0),
        (C - 2.0) / 3.0,
        _start(x0, "reddi_thm1"),
        tags=set(),
        metrics=("x_0", "avg_regret"),
        reference=f"{REDDI}, Theorem 1",
        notes=(
            f"g_t = C = {C:g} if t mod 3 = 1 else -1; each 3-step block sums to (C - 2) x, "
            "minimised at -1. The theorem's Adam: b1 = 0, b2 = 1/(1 + C^2), "
            "alpha_t = alpha/sqrt(t) with alpha < sqrt(1 - b2), no bias correction, no eps, "
            "x_1 = 1 (options suggested_*; alpha = sqrt(1 - b2)/2 as in docs/problems.md's check). "
            "Claim: Adam's x_t -> +1 and R_T/T does not vanish. objective = per-period "
            "average loss (C - 2) x / 3."
        ),
        options={
            "C": C,
            "period": 3,
            "suggested_hyper": {"learning_rate": 0.5 * alpha_max, "b1": 0.0, "b2": b2, "eps": 0.0},
            "suggested_schedule": "inv_sqrt",
            "suggested_bias_correction": False,
            "max_learning_rate": alpha_max,
        },
    )


ENTRIES = [
    ProblemEntry(
        id="reddi_online",
        make=make_online,
        summary="Reddi's online counterexample: 1010x once per 101 steps, else -10x, on [-1, 1]",
        defaults={"period": 101, "big": 1010.0, "small": -10.0, "x0": 0.0},
        tags=frozenset({"online", "convex", "constrained", "counterexample"}),
    ),
    ProblemEntry(
        id="reddi_stochastic",
        make=make_stochastic,
        summary="Reddi's stochastic counterexample: 1010x w.p. 0.01, else -10x, on [-1, 1]",
        defaults={"p": 0.01, "big": 1010.0, "small": -10.0, "x0": 0.0},
        tags=frozenset({"online", "stochastic", "convex", "constrained", "counterexample"}),
    ),
    ProblemEntry(
        id="reddi_thm1",
        make=make_thm1,
        summary="Reddi's Theorem 1: Cx once per 3 steps, else -x, on [-1, 1] (C > 2)",
        defaults={"C": 3.0, "x0": 1.0},
        tags=frozenset({"online", "convex", "constrained", "counterexample"}),
    ),
]
