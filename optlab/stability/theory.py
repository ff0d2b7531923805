"""Closed forms: Theorems 2 and 3 of Zhang, Niwa, Kleijn (arXiv:2112.06125), gradient descent, heavy
ball; the exact stability boundary and the paper's condition (25)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


# ---- closed forms ----------------------------------------------------------------------------
def theorem2_eigenvalues(phi, b1, b2, mu) -> np.ndarray:
    """Theorem 2 (Zhang, Niwa, Kleijn, arXiv:2112.06125, eqs. (22)-(24)): beta2 and the two roots of
    lambda^2 - T lambda + D = 0, T = 1 - mu + b1 - phi (1 - b1), D = b1 (1 - mu), for each
    phi_i = eta gamma_i / delta."""
    phi = np.atleast_1d(np.asarray(phi, float))
    T = 1 - mu + b1 - phi * (1 - b1)
    D = b1 * (1 - mu) * np.ones_like(phi)
    return np.concatenate([np.full(phi.size, b2, complex), quadratic_roots(T, D)])


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


def phi_c_exact(b1: float, mu: float) -> float:
    """The exact q = 1 boundary from 1 + T + D > 0: phi < (1 + b1)(2 - mu)/(1 - b1)."""
    return (1 + b1) * (2 - mu) / (1 - b1)


def phi_c_paper(b1: float, mu: float) -> float:
    """The paper's sufficient condition (25): phi (1 - b1) < 2 b1 + 2 (1 - mu)."""
    return (2 * b1 + 2 * (1 - mu)) / (1 - b1)


def complex_interval(b1: float, mu: float) -> tuple[float, float]:
    """phi where the Theorem-2 pair is complex (modulus sqrt(b1 (1 - mu)))."""
    a, b = math.sqrt(1 - mu), math.sqrt(b1)
    return (a - b) ** 2 / (1 - b1), (a + b) ** 2 / (1 - b1)


@dataclass
class Theory:
    name: str
    eigenvalues: np.ndarray | None
    note: str = ""
    delta: float = float("nan")  # the phi denominator (Theorem 2 family)
    phi: float = float("nan")  # eta gamma_max / delta
    eta_c: float = float("nan")  # exact learning-rate boundary
    eta_c_paper: float = float("nan")  # from the paper's (25)

    @property
    def spectral_radius(self) -> float:
        if self.eigenvalues is None or not len(self.eigenvalues):
            return float("nan")
        return float(np.max(np.abs(self.eigenvalues)))


def theory(opt_id: str, static: dict, hp: dict, gammas, at_lemma1: bool) -> Theory | None:
    """The closed-form eigenvalues of the Jacobian at z*, where the paper (or textbook)
    gives one, for optimizer ``opt_id`` with hyperparameters ``hp`` and Hessian eigenvalues
    ``gammas`` at the fixed point. ``at_lemma1``: z* = (x*, zero state) is the fixed point
    (the closed forms of Theorems 2-3 assume it). None when there is no closed form."""
    gam = np.asarray(gammas, float)
    gmax = float(np.max(gam)) if gam.size else float("nan")
    lr = hp.get("learning_rate", float("nan"))
    if opt_id == "sgd":
        lam = gam + hp.get("l2", 0.0)
        eta_c = 2 / float(np.max(lam)) if np.max(lam) > 0 else float("inf")
        return Theory(
            "gradient descent: 1 - lr (gamma_i + l2)", (1 - lr * lam).astype(complex), eta_c=eta_c
        )
    if opt_id == "heavy_ball":
        b = hp["momentum"]
        lam = gam + hp.get("l2", 0.0)
        if static.get("dampening"):
            lam = (1 - b) * lam
        if static.get("nesterov"):
            T, D = 1 + b - lr * lam * (1 + b), b * (1 - lr * lam)
            name = "Nesterov: lambda^2 - (1 + b - lr g (1 + b)) lambda + b (1 - lr g) = 0"
            eta_c = 2 * (1 + b) / ((1 + 2 * b) * float(np.max(lam)))
        else:
            T, D = 1 + b - lr * lam, b * np.ones_like(lam)
            name = "heavy ball: companion matrix [[b, g], [-lr b, 1 - lr g]] per gamma"
            eta_c = 2 * (1 + b) / float(np.max(lam))
        return Theory(name, quadratic_roots(T, D), eta_c=eta_c)
    if not at_lemma1:
        return None
    if opt_id == "aida_pq":
        p, q, eps, mu = hp["p"], hp["q"], hp["eps"], hp["mu"]
        b1, b2 = hp["b1"], hp["b2"]
        n = gam.size
        if q > 1:
            eigs = np.concatenate([np.full(n, b1), np.full(n, b2), np.full(n, 1 - mu)])
            return Theory("Theorem 3: {b1, b2, 1 - mu}", eigs.astype(complex))
        if eps <= 0:
            return None
        form = static.get("form", "a")
        delta = eps ** (1 / p) if form == "a" else eps
        note = "p = 1: reduced (m, x) block and r self-term" if p == 1 else ""
        return _theorem2(lr, gam, gmax, delta, b1, b2, mu, "Theorem 2 (q = 1)", note)
    if opt_id in ("adam", "adamw"):
        mode = static.get("eps_mode", "E1")
        eps = hp["eps"]
        if mode == "E5" or eps <= 0:
            return None
        delta = eps if mode in ("E1", "E4") else math.sqrt(eps)
        mu = lr * hp.get("weight_decay", 0.0) if opt_id == "adamw" else 0.0
        lam = gam + hp.get("l2", 0.0)
        return _theorem2(
            lr,
            lam,
            float(np.max(lam)),
            delta,
            hp["b1"],
            hp["b2"],
            mu,
            f"Theorem 2 with mu = {'lr*weight_decay' if opt_id == 'adamw' else '0'} "
            f"({mode}: delta = {'eps' if mode in ('E1', 'E4') else 'sqrt(eps)'})",
            "",
        )
    return None


def _theorem2(lr, gam, gmax, delta, b1, b2, mu, name, note) -> Theory:
    phi = lr * gam / delta
    eigs = theorem2_eigenvalues(phi, b1, b2, mu)
    return Theory(
        name,
        eigs,
        note,
        delta=delta,
        phi=lr * gmax / delta,
        eta_c=phi_c_exact(b1, mu) * delta / gmax,
        eta_c_paper=phi_c_paper(b1, mu) * delta / gmax,
    )
