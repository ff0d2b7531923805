"""A rotated, ill-conditioned quadratic, as an optlab problem plug-in:
``optlab run rotated_quadratic --plugin examples/rotated_quadratic.py --opt adam``.

    f(x) = 1/2 (x - x*)^T Q diag(lambda) Q^T (x - x*),    x* = (1, ..., 1),  f* = 0

with eigenvalues lambda log-spaced from 1 to ``condition`` and Q a rotation: by ``angle``
(radians) in 2-D, a seeded random orthogonal matrix (QR of a normal matrix) above. The
rotation couples the coordinates, so a diagonal preconditioner (Adam's sqrt(v)) cannot undo
the conditioning the way it can on an axis-aligned quadratic. Start x0 = 0. The minimiser
and f* are known, so ``optlab stability`` can analyse any optimizer on it.

Written with the public API only (``problems.Problem``, ``problems.ProblemEntry``).
"""

from __future__ import annotations

import numpy as np

from optlab.optim_utils import jnp
from problems import Problem, ProblemEntry


def rotation(dim: int, angle: float, seed: int) -> np.ndarray:
    if dim == 2:
        c, s = np.cos(angle), np.sin(angle)
        return np.array([[c, -s], [s, c]])
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))  # a unique Q: the QR factor with a positive diagonal R


def make(dim: int = 2, condition: float = 100.0, angle: float = np.pi / 6, seed: int = 0):
    if int(dim) != dim or dim < 2:
        raise ValueError("rotated_quadratic: dim must be an integer >= 2")
    if not condition >= 1:
        raise ValueError("rotated_quadratic: condition must be >= 1")
    dim = int(dim)
    q = rotation(dim, float(angle), int(seed))
    eigenvalues = np.geomspace(1.0, float(condition), dim)
    hessian = jnp.asarray(q @ np.diag(eigenvalues) @ q.T)
    x_star = jnp.ones(dim)

    def loss(x, batch=None):
        del batch
        d = x - x_star.astype(x.dtype)
        return 0.5 * d @ (hessian.astype(x.dtype) @ d)

    return Problem(
        name="rotated_quadratic",
        loss=loss,
        x0=jnp.zeros(dim),
        x_star=x_star,
        f_star=0.0,
        f_star_kind="global",
        plot_box=(-0.5, 1.5, -0.5, 1.5) if dim == 2 else None,
        tags=frozenset({"convex", "quadratic", "2d"} if dim == 2 else {"convex", "quadratic"}),
        reference="example plug-in: a rotated quadratic with condition number `condition`",
        options={"dim": dim, "condition": float(condition), "angle": float(angle), "seed": seed},
        metrics=("gap", "dist"),
    )


ENTRIES = [
    ProblemEntry(
        id="rotated_quadratic",
        make=make,
        summary="1/2 (x-x*)^T Q diag(1..condition) Q^T (x-x*), x* = 1, rotated (plug-in example)",
        defaults={"dim": 2, "condition": 100.0, "angle": float(np.pi / 6), "seed": 0},
        tags=frozenset({"convex", "quadratic"}),
    )
]
