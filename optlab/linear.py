"""Closed-form linearisations: the record an optimizer's ``linearisation`` returns, and the
small pieces of algebra the built-in ones share (roots of a 2x2 characteristic polynomial,
Aida's Theorem 2 spectrum and its exact boundary). No JAX: plain NumPy on floats.

Public API for plug-ins: an optimizer whose paper gives the eigenvalues of the step map's
Jacobian at the fixed point declares ``OptimizerEntry(linearisation=fn)`` with
``fn(static, hyper, curvatures, at_zero_state) -> ClosedForm | None`` where ``curvatures``
are the Hessian eigenvalues at x*; the stability analyzer prints the closed form beside the
autodiff eigenvalues and compares them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClosedForm:
    """Eigenvalues of the Jacobian at z* from a formula, with the boundary it implies."""

    name: str  # the formula in words, shown in tables and legends
    eigenvalues: np.ndarray | None
    note: str = ""
    delta: float = float("nan")  # the phi denominator (Theorem 2 family)
    phi: float = float("nan")  # eta gamma_max / delta
    eta_c: float = float("nan")  # exact learning-rate boundary
    eta_c_paper: float = float("nan")  # from the paper's sufficient condition, if any

    @property
    def spectral_radius(self) -> float:
        if self.eigenvalues is None or not len(self.eigenvalues):
            return float("nan")
        return float(np.max(np.abs(self.eigenvalues)))


def quadratic_roots(T, D) -> np.ndarray:
    """Both roots of lambda^2 - T lambda + D = 0 (first the larger-modulus ones), without
    cancellation: for real roots the large one is (T + sgn(T) sqrt(T^2 - 4D))/2 and the
    small one D / large (the plain formula loses the small root when |T| >> 1)."""
    T = np.atleast_1d(np.asarray(T, float))
    D = np.atleast_1d(np.asarray(D, float)) * np.ones_like(T)
    disc = T * T - 4 * D
    real = disc >= 0
    sq = np.sqrt(np.abs(disc))
    big = (T + np.where(T >= 0, 1.0, -1.0) * sq) / 2
    safe = np.where(big != 0, big, 1.0)
    small = np.where(big != 0, D / safe, 0.0)
    r1 = np.where(real, big, T / 2 + 0.5j * sq)
    r2 = np.where(real, small, T / 2 - 0.5j * sq)
    return np.concatenate([r1.astype(complex), r2.astype(complex)])


def theorem2_eigenvalues(phi, b1, b2, mu) -> np.ndarray:
    """Aida's Theorem 2 (Zhang, Niwa, Kleijn, arXiv:2112.06125, eqs. (22)-(24)): b2 and the
    two roots of lambda^2 - T lambda + D = 0, T = 1 - mu + b1 - phi (1 - b1),
    D = b1 (1 - mu), for each phi_i = eta gamma_i / delta."""
    phi = np.atleast_1d(np.asarray(phi, float))
    T = 1 - mu + b1 - phi * (1 - b1)
    D = b1 * (1 - mu) * np.ones_like(phi)
    return np.concatenate([np.full(phi.size, b2, complex), quadratic_roots(T, D)])


def phi_c_exact(b1: float, mu: float) -> float:
    """The exact q = 1 boundary from 1 + T + D > 0: phi < (1 + b1)(2 - mu)/(1 - b1)."""
    return (1 + b1) * (2 - mu) / (1 - b1)


def phi_c_paper(b1: float, mu: float) -> float:
    """The Aida paper's sufficient condition (25): phi (1 - b1) < 2 b1 + 2 (1 - mu)."""
    return (2 * b1 + 2 * (1 - mu)) / (1 - b1)


def complex_interval(b1: float, mu: float) -> tuple[float, float]:
    """phi where the Theorem-2 pair is complex (modulus sqrt(b1 (1 - mu)))."""
    a, b = math.sqrt(1 - mu), math.sqrt(b1)
    return (a - b) ** 2 / (1 - b1), (a + b) ** 2 / (1 - b1)


def theorem2(lr, gam, delta, b1, b2, mu, name: str, note: str = "") -> ClosedForm:
    """The Theorem 2 spectrum for curvatures ``gam`` with phi denominator ``delta``."""
    gam = np.asarray(gam, float)
    gmax = float(np.max(gam))
    eigs = theorem2_eigenvalues(lr * gam / delta, b1, b2, mu)
    return ClosedForm(
        name,
        eigs,
        note,
        delta=delta,
        phi=lr * gmax / delta,
        eta_c=phi_c_exact(b1, mu) * delta / gmax,
        eta_c_paper=phi_c_paper(b1, mu) * delta / gmax,
    )
