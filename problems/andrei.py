"""The ten functions of the Aida paper's Fig. 4, from Andrei's collection.

N. Andrei, "An Unconstrained Optimization Test Functions Collection", Advanced Modeling
and Optimization 10(1):147-161, 2008. Definitions follow docs/problems.md#definitions
(Andrei / CUTE), not the Aida paper's Table I, whose OCR has errors; the Aida paper's printed
variants are the opt-in records ``fun1_seed``, ``fun2_seed``, ``fun4_seed``, ``fun8_seed``.
Indices are 1-based in the formulas; pairs are a_p = x_{2p-1}, b_p = x_{2p}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optlab._jax import jnp
from problems.spec import Problem, ProblemEntry

ANDREI = "Andrei (2008), An Unconstrained Optimization Test Functions Collection"
SEED = "Zhang, Niwa, Kleijn, arXiv:2112.06125, Table I (as printed)"
MARATOS_A = -1.001247664031  # root in (-1.1, -1) of 1 + 400 a (a^2 - 1) = 0
MARATOS_PAIR = -1.000624220697
ENGVAL1_F = {2: 0.0, 50: 53.5822148852, 100: 109.0881361431, 1000: 1108.1947187850}


def _pairs(x):
    return x[..., 0::2], x[..., 1::2]


def ext_himmelblau(x, batch=None):
    a, b = _pairs(x)
    return jnp.sum((a * a + b - 11) ** 2 + (a + b * b - 7) ** 2, axis=-1)


def ext_maratos(x, batch=None):
    a, b = _pairs(x)
    return jnp.sum(a + 100 * (a * a + b * b - 1) ** 2, axis=-1)


def qf1(x, batch=None):
    i = jnp.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    return 0.5 * jnp.sum(i * x * x, axis=-1) - x[..., -1]


def ext_bd1(x, batch=None):
    a, b = _pairs(x)
    return jnp.sum((a * a + b * b - 2) ** 2 + (jnp.exp(a - 1) - b) ** 2, axis=-1)


def tridia(x, batch=None):
    i = jnp.arange(2, x.shape[-1] + 1, dtype=x.dtype)
    r = 2 * x[..., 1:] - x[..., :-1]
    return (x[..., 0] - 1) ** 2 + jnp.sum(i * r * r, axis=-1)


def arwhead(x, batch=None):
    head, last = x[..., :-1], x[..., -1:]
    return jnp.sum((head * head + last * last) ** 2 - 4 * head + 3, axis=-1)


def eg2(x, batch=None):
    head = x[..., :-1]
    last = x[..., -1]
    return jnp.sum(jnp.sin(x[..., :1] + head * head - 1), axis=-1) + 0.5 * jnp.sin(last * last)


def ppq(x, batch=None):
    i = jnp.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    s = jnp.cumsum(x, axis=-1)
    return x[..., 0] ** 2 + jnp.sum(i * x * x + s * s / 100, axis=-1)


def engval1(x, batch=None):
    u, w = x[..., :-1], x[..., 1:]
    return jnp.sum((u * u + w * w) ** 2 - 4 * u + 3, axis=-1)


def edensch(x, batch=None):
    u, w = x[..., :-1], x[..., 1:]
    return 16 + jnp.sum((u - 2) ** 4 + (u * w - 2 * w) ** 2 + (w + 1) ** 2, axis=-1)


def ext_himmelblau_seed(x, batch=None):
    a, b = _pairs(x)
    return jnp.sum((a * a + b - 11) + (a + b * b - 7) ** 2, axis=-1)


def ext_maratos_seed(x, batch=None):
    a, b = _pairs(x)
    return jnp.sum(a + 100 * (a + b * b - 1) ** 2, axis=-1)


def ext_bd1_seed(x, batch=None):
    a, b = _pairs(x)
    return jnp.sum((a * a + b * b - 2) + (jnp.exp(a) - b) ** 2, axis=-1)


def ppq_seed(x, batch=None):
    i = jnp.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    s = jnp.cumsum(x, axis=-1)[..., :-1]
    return x[..., 0] ** 2 + jnp.sum(i * x * x, axis=-1) + jnp.sum(s * s, axis=-1) / 100


def _eg2_local_x1(n: int) -> tuple[float, float]:
    """The local minimiser reached from x0 = 1: x_2..x_n = 0 and x_1 minimising
    h(x1) = sin(x1 + x1^2 - 1) + (n - 2) sin(x1 - 1), by Newton's method."""
    x = -0.57
    for _ in range(50):
        u = x + x * x - 1
        d1 = (1 + 2 * x) * np.cos(u) + (n - 2) * np.cos(x - 1)
        d2 = 2 * np.cos(u) - (1 + 2 * x) ** 2 * np.sin(u) - (n - 2) * np.sin(x - 1)
        x -= d1 / d2
    return x, float(np.sin(x + x * x - 1) + (n - 2) * np.sin(x - 1))


def _tile(pair, n):
    return np.tile(np.asarray(pair, dtype=np.float64), n // 2)


@dataclass(frozen=True)
class _Def:
    id: str
    alias: str
    name: str
    loss: Callable
    x0: Callable[[int], np.ndarray]
    star: Callable[[int], tuple[np.ndarray | None, float | None, str]]
    pairs: bool = False
    seed_variant: bool = False
    notes: str = ""


def _eg2_star(n):
    x1, f = _eg2_local_x1(n)
    x = np.zeros(n)
    x[0] = x1
    return x, f, "local-from-x0"


DEFS = [
    _Def(
        "fun1",
        "ext_himmelblau",
        "Extended Himmelblau",
        ext_himmelblau,
        lambda n: np.ones(n),
        lambda n: (_tile((3.0, 2.0), n), 0.0, "global"),
        pairs=True,
        notes="4^(n/2) global minimisers; from x0 = 1 every pair goes to (3, 2)",
    ),
    _Def(
        "fun2",
        "ext_maratos",
        "Extended Maratos",
        ext_maratos,
        lambda n: _tile((1.1, 0.1), n),
        lambda n: (_tile((MARATOS_A, 0.0), n), n / 2 * MARATOS_PAIR, "global"),
        pairs=True,
    ),
    _Def(
        "fun3",
        "qf1",
        "Quadratic QF1",
        qf1,
        lambda n: np.ones(n),
        lambda n: (np.r_[np.zeros(n - 1), 1.0 / n], -1.0 / (2 * n), "global"),
    ),
    _Def(
        "fun4",
        "ext_bd1",
        "Extended BD1 (block diagonal)",
        ext_bd1,
        lambda n: np.full(n, 0.1),
        lambda n: (np.ones(n), 0.0, "global"),
        pairs=True,
        notes="each pair also has a zero at (-1.411366440131, 0.089692651161)",
    ),
    _Def(
        "fun5",
        "tridia",
        "TRIDIA",
        tridia,
        lambda n: np.ones(n),
        lambda n: (2.0 ** (1 - np.arange(1, n + 1)), 0.0, "global"),
    ),
    _Def(
        "fun6",
        "arwhead",
        "ARWHEAD",
        arwhead,
        lambda n: np.ones(n),
        lambda n: (np.r_[np.ones(n - 1), 0.0], 0.0, "global"),
    ),
    _Def(
        "fun7",
        "eg2",
        "EG2",
        eg2,
        lambda n: np.ones(n),
        _eg2_star,
        notes="f_star is the local minimum reached from x0; the global minimum is "
        "-(n-1)-1/2 (-99.5 at n = 100)",
    ),
    _Def(
        "fun8",
        "ppq",
        "Partial perturbed quadratic",
        ppq,
        lambda n: np.full(n, 0.5),
        lambda n: (np.zeros(n), 0.0, "global"),
    ),
    _Def(
        "fun9",
        "engval1",
        "ENGVAL1",
        engval1,
        lambda n: np.full(n, 2.0),
        lambda n: (None, ENGVAL1_F.get(n), "global" if n in ENGVAL1_F else "none"),
        notes="x* known only numerically (docs/problems.md#definitions); f* tabulated for n in 2, "
        "50, 100, 1000",
    ),
    _Def(
        "fun10",
        "edensch",
        "EDENSCH",
        edensch,
        lambda n: np.zeros(n),
        lambda n: (None, 6 * n + 3.2845920208, "global") if n >= 36 else (None, None, "none"),
        notes="x* known only numerically; f* = 6n + 3.2845920208 (verified for n >= 36)",
    ),
    _Def(
        "fun1_seed",
        "",
        "Extended Himmelblau as printed in Zhang, Niwa, Kleijn (arXiv:2112.06125)",
        ext_himmelblau_seed,
        lambda n: np.ones(n),
        lambda n: (None, None, "none"),
        pairs=True,
        seed_variant=True,
        notes="first group not squared; bounded below, global -683.1686845669 at n = 100",
    ),
    _Def(
        "fun2_seed",
        "",
        "Extended Maratos as printed in Zhang, Niwa, Kleijn (arXiv:2112.06125)",
        ext_maratos_seed,
        lambda n: _tile((1.1, 0.1), n),
        lambda n: (None, None, "none"),
        pairs=True,
        seed_variant=True,
        notes="unbounded below (a pathological example)",
    ),
    _Def(
        "fun4_seed",
        "",
        "Extended BD1 as printed in Zhang, Niwa, Kleijn (arXiv:2112.06125)",
        ext_bd1_seed,
        lambda n: np.full(n, 0.1),
        lambda n: (_tile((-0.2835717, 0.3765446), n), n / 2 * -1.6360154768, "global"),
        pairs=True,
        seed_variant=True,
    ),
    _Def(
        "fun8_seed",
        "",
        "Partial perturbed quadratic as printed in Zhang, Niwa, Kleijn (arXiv:2112.06125)",
        ppq_seed,
        lambda n: np.ones(n),
        lambda n: (np.zeros(n), 0.0, "global"),
        seed_variant=True,
    ),
]


def _factory(d: _Def):
    def make(dim: int = 100) -> Problem:
        n = int(dim)
        if n < 2:
            raise ValueError(f"{d.id} needs dim >= 2, got {n}")
        if d.pairs and n % 2:
            raise ValueError(f"{d.id} is pair-structured and needs an even dim, got {n}")
        x_star, f_star, kind = d.star(n)
        tags = {"andrei", f"n={n}"} | ({"seed-variant"} if d.seed_variant else set())
        return Problem(
            name=d.id,
            loss=d.loss,
            x0=jnp.asarray(d.x0(n)),
            x_star=None if x_star is None else jnp.asarray(x_star),
            f_star=f_star,
            f_star_kind=kind,
            tags=frozenset(tags),
            reference=SEED if d.seed_variant else f"{ANDREI}: {d.name}",
            notes=d.notes,
            options={"dim": n},
        )

    make.__doc__ = f"{d.name} ({d.id}) in dimension ``dim``."
    return make


ENTRIES = [
    ProblemEntry(
        id=d.id,
        make=_factory(d),
        summary=d.name,
        defaults={"dim": 100},
        aliases=(d.alias,) if d.alias else (),
        tags=frozenset({"andrei"} | ({"seed-variant"} if d.seed_variant else set())),
    )
    for d in DEFS
]
