"""Eigenvalues of an assembled Jacobian with a bound on the error of each, and the one
classifier of a spectral radius (stable / unstable / undetermined). NumPy and SciPy only.

The bound is first-order perturbation theory on the balanced matrix B = D^-1 J D (same
eigenvalues): |d lambda_k| <= eta / s_k, with eta = ||E||_F + n eps ||B||_F (E: the
entries' own errors, e.g. of a difference quotient that replaced autodiff; the second term:
the backward error of the eigenvalue solver and of rounding J itself) and s_k = |y_k^H x_k|
for unit left and right eigenvectors. A near-multiple eigenvalue uses the smaller of that
and 2 sqrt(eta ||B||). An eigenvalue whose modulus is below its bound is *not resolved*:
float64 cannot tell it from 0 (at rho = 1e27 the small root 9e-28 of Adam's pair is only
known to ~1e11), so it is reported as below the achievable accuracy, not as a number. The
bounds are computed per diagonal block of the block-triangular form (:func:`sccs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

EPS = float(np.finfo(float).eps)


def balance(M: np.ndarray, sweeps: int = 30) -> np.ndarray:
    """Osborne balancing: d with D^-1 |M| D having equal off-diagonal row and column sums
    (eigenvalues are invariant under this similarity). NaN entries count as 0."""
    A = np.nan_to_num(np.abs(np.asarray(M, float)), nan=0.0, posinf=0.0)
    np.fill_diagonal(A, 0.0)
    n = A.shape[0]
    d = np.ones(n)
    for _ in range(sweeps):
        for i in range(n):
            row = np.sum(A[i, :] * d) / d[i]
            col = np.sum(A[:, i] / d) * d[i]
            if row > 0 and col > 0 and np.isfinite(row) and np.isfinite(col):
                d[i] *= math.sqrt(row / col)
    return d


def radius(eigs) -> float:
    return float(np.max(np.abs(eigs))) if len(eigs) else 0.0


def classify_rho(rho: float, tol: float, error: float = 0.0) -> str:
    """stable when rho + error < 1 - tol, unstable when rho - error > 1 + tol, undetermined
    in between; non_differentiable when rho is not a number (no linear verdict)."""
    if not np.isfinite(rho):
        return "non_differentiable"
    if rho - error > 1 + tol:
        return "unstable"
    if rho + error < 1 - tol:
        return "stable"
    return "undetermined"


@dataclass(frozen=True)
class Spectrum:
    """Eigenvalues (complex), a bound on the error of each, right eigenvectors of J."""

    values: np.ndarray
    errors: np.ndarray
    vectors: np.ndarray

    @classmethod
    def empty(cls) -> Spectrum:
        return cls(np.zeros(0, complex), np.zeros(0), np.zeros((0, 0), complex))

    @property
    def resolved(self) -> np.ndarray:
        """True where |lambda| exceeds its error bound (the value means something)."""
        return np.abs(self.values) > self.errors

    @property
    def radius(self) -> float:
        return radius(self.values) if len(self.values) else float("nan")

    @property
    def radius_error(self) -> float:
        """A bound on the error of the spectral radius: the true radius lies between
        max_k (|lambda_k| - e_k) and max_k (|lambda_k| + e_k)."""
        if not len(self.values):
            return float("nan")
        mod, rho = np.abs(self.values), self.radius
        return float(max(np.max(mod + self.errors) - rho, rho - np.max(mod - self.errors)))

    def describe(self, relation: str = "") -> str:
        """'rho = 0.9486832981 < 1 (1 - rho = 0.0513; error bound 5.8e-12)'."""
        rho = self.radius
        head = f"rho = {rho:.10g}" + (f" {relation}" if relation else "")
        return f"{head} (1 - rho = {1 - rho:.3g}; error bound {self.radius_error:.2g})"


def spectrum(J: np.ndarray, entry_error: np.ndarray | None = None) -> Spectrum:
    """The eigenvalues of a finite matrix J with their error bounds (module docstring),
    block by block of its block-triangular form: an eigenvalue of one diagonal block is
    perturbed only by that block's entries, so Adam's b2 keeps its 1e-16 accuracy beside an
    (x, m) block of norm 1e27. Eigenvectors are the blocks' own, padded with zeros."""
    J = np.asarray(J, float)
    E = np.zeros_like(J) if entry_error is None else np.asarray(entry_error, float)
    n = J.shape[0]
    if n == 0:
        return Spectrum.empty()
    values, errors, vectors = [], [], []
    for comp in sccs((J != 0) | (E != 0)):
        block = np.ix_(comp, comp)
        vals, errs, vecs = _block_spectrum(J[block], E[block])
        values.append(vals)
        errors.append(errs)
        padded = np.zeros((n, len(comp)), complex)
        padded[comp, :] = vecs
        vectors.append(padded)
    return Spectrum(np.concatenate(values), np.concatenate(errors), np.hstack(vectors))


def _block_spectrum(J, E):
    """(eigenvalues, error bounds, right eigenvectors) of one block, on its balanced form."""
    d = balance(J)
    similar = d[None, :] / d[:, None]
    B, E = J * similar, E * similar
    norm = float(np.linalg.norm(B))
    eta = float(np.linalg.norm(E)) + J.shape[0] * EPS * norm
    values, left, right = scipy.linalg.eig(B, left=True, right=True)
    s = np.abs(np.sum(np.conj(left) * right, axis=0))
    s = s / (np.linalg.norm(left, axis=0) * np.linalg.norm(right, axis=0))
    first = np.where(s > 0, eta / np.maximum(s, 1e-300), np.inf)
    errors = np.minimum(first, 2 * np.sqrt(eta * norm))
    return values.astype(complex), errors, right * d[:, None]


def sccs(adj: np.ndarray) -> list[list[int]]:
    """Strongly connected components (Tarjan, iterative) of adj[i, j] = edge j -> i,
    returned in a topological order of the condensation."""
    n = adj.shape[0]
    succ = [list(np.nonzero(adj[:, j])[0]) for j in range(n)]
    index, low, on, stack, comps = {}, {}, set(), [], []
    counter = 0
    for root in range(n):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, k = work.pop()
            if k == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on.add(v)
            recurse = False
            for w_i in range(k, len(succ[v])):
                w = succ[v][w_i]
                if w not in index:
                    work.append((v, w_i + 1))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return comps[::-1]
