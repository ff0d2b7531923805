"""Verdicts in NumPy at the edge: entry classification, assembled Jacobian, eigenvalues,
status and reason per grid point."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optlab.stability._common import (
    AD_WRONG,
    CONVERGED,
    FIXED_POINT_TOL,
    GROWS,
    KIND_NAMES,
    KINK,
    NO_DATA,
    RTOL,
    SINGULAR,
    SMOOTH,
    UNRESOLVED,
)
from optlab.stability.stepmap import Layout


# ---- verdicts (NumPy) ----------------------------------------------------------------------
@dataclass
class Verdict:
    """One grid point's result."""

    status: str
    reason: str
    spectral_radius: float
    eigenvalues: np.ndarray  # complex; empty when there is no linear verdict
    jacobian: np.ndarray  # assembled (NaN where unknown)
    jacobian_source: str
    nonsmooth_entries: str
    fixed_point: str
    fixed_point_residual: float  # max |H(z*) - z*| (absolute) at the point used
    block_radii: str
    reduced_verdict: str = ""
    transverse_radius: float = float("nan")
    ad_quotient_max_rel_diff: float = float("nan")


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


def _agree(a, b, err, frame, tol=RTOL):
    """|a - b| within twice the quotient error plus tol relative to the values and to the
    size of the balanced matrix (``frame`` = (d_j / d_i, size)), so that entries that are
    small only by cancellation (e.g. 1 - mu - phi (1 - b1)) compare on the matrix's scale."""
    ratio, size = frame
    gap = np.abs(a - b)
    return gap <= 2 * err + tol * np.maximum(np.abs(a), np.abs(b)) + tol * size / ratio + 1e-300


def classify_entries(res: dict, i: int):
    """Per-entry kinds, the assembled Jacobian and the per-entry error of point ``i``."""
    A = res["jac_ad"][i]
    fv, fe, fc = res["fwd_value"][i], res["fwd_err"][i], res["fwd_code"][i]
    bv, be, bc = res["bwd_value"][i], res["bwd_err"][i], res["bwd_code"][i]
    f_ok, b_ok = fc == CONVERGED, bc == CONVERGED
    one_sided = bc == NO_DATA  # backward not evaluable (domain) or not asked (>= 0 coordinate)
    M = np.where(np.isfinite(A), np.abs(A), 0.0)
    M = np.maximum(M, np.where(f_ok, np.abs(fv), 0.0))
    d = balance(M)
    ratio = d[None, :] / d[:, None]
    size = max(1.0, float(np.max(M * ratio)) if M.size else 1.0)
    frame = (ratio, size)
    sides_agree = f_ok & b_ok & _agree(fv, bv, fe + be, frame)
    kink = f_ok & b_ok & ~sides_agree
    singular = (fc == GROWS) | (bc == GROWS)
    both = np.where(one_sided, f_ok, sides_agree)
    q = np.where(one_sided | ~b_ok, fv, 0.5 * (fv + bv))
    q_err = np.where(one_sided | ~b_ok, fe, np.maximum(fe, be))
    ad_finite = np.isfinite(A)
    ad_ok = ad_finite & _agree(A, q, q_err, frame)
    kind = np.full(A.shape, UNRESOLVED, int)
    kind[both & ad_ok] = SMOOTH
    kind[both & ~ad_ok] = AD_WRONG
    kind[kink] = KINK
    kind[singular] = SINGULAR
    J = np.where(kind == SMOOTH, A, np.nan)
    J = np.where(kind == AD_WRONG, q, J)
    J = np.where((kind == UNRESOLVED) & ad_finite, A, J)
    err = np.where(kind == SMOOTH, 0.0, np.where(kind == AD_WRONG, q_err, 0.0))
    detail = {"fwd": fv, "bwd": bv, "ad": A, "one_sided": one_sided, "d": d, "size": size}
    return kind, J, err, detail


def _sccs(adj: np.ndarray) -> list[list[int]]:
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


def _radius(eigs) -> float:
    return float(np.max(np.abs(eigs))) if len(eigs) else 0.0


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _entry_text(names, i, j) -> str:
    return f"{names[i]}<-{names[j]}"


def _block_radii(J, names, leaf_of, leaf_names) -> str:
    """Radii of the diagonal blocks of the block-triangular form, blocks named by leaves."""
    adj = (J != 0) | np.isnan(J)
    parts = []
    for comp in _sccs(adj):
        sub = J[np.ix_(comp, comp)]
        leaves = dict.fromkeys(leaf_names[leaf_of[c]] for c in comp)
        label = (
            "+".join(leaves) if len(comp) > 1 or len(names) > len(leaf_names) else names[comp[0]]
        )
        rad = _radius(np.linalg.eigvals(sub)) if np.all(np.isfinite(sub)) else float("nan")
        parts.append((label, rad))
    merged: dict[str, float] = {}
    for label, rad in parts:
        merged[label] = max(merged.get(label, 0.0), rad) if np.isfinite(rad) else float("nan")
    return "; ".join(f"{k}={_fmt(v)}" for k, v in merged.items())


def _classify_rho(rho: float, tol: float) -> str:
    if not np.isfinite(rho):
        return "non_differentiable"
    if rho > 1 + tol:
        return "unstable"
    if rho < 1 - tol:
        return "stable"
    return "undetermined"


def verdicts(res: dict, layout: Layout, tol: float = 1e-8, notes: str = "") -> list[Verdict]:
    """Status and reason for every grid point of an analysis ``res`` (see module doc)."""
    names = layout.coordinate_names()
    leaf_of = layout.leaf_of()
    out = []
    g = res["z"].shape[0]
    for i in range(g):
        out.append(_verdict(res, i, layout, names, leaf_of, tol, notes))
    return out


def _verdict(res, i, layout, names, leaf_of, tol, notes) -> Verdict:
    kind, J, err, detail = classify_entries(res, i)
    n = J.shape[0]
    r0, r = float(res["residual0"][i]), float(res["residual"][i])
    r_abs = float(res["residual_abs"][i])
    d = layout.sizes[0]
    x_f = np.abs(res["z"][i][:d])
    dx = np.abs(res["correction"][i][:d])
    # rounding-limited: the remaining Newton correction of x is a few ulp of x
    at_resolution = bool(np.all(np.isfinite(dx)) and np.all(dx <= 64 * np.spacing(x_f)))
    found = r <= FIXED_POINT_TOL or at_resolution
    if r0 == 0:
        fixed_point = "z0 = (x*, init state) is exact"
    elif found:
        moved = res["z"][i] - res["z0"][i]
        k = int(np.argmax(np.abs(moved[: layout.sizes[0]])))
        fixed_point = (
            f"shifted: solved H(z) = z by Newton (x moved {moved[k]:.3g} from x*; "
            f"relative residual {r:.2g}"
            + (", limited by the float64 resolution of x)" if r > FIXED_POINT_TOL else ")")
        )
    else:
        fixed_point = (
            f"no fixed point found near (x*, init state): relative residual {r:.3g} after "
            "Newton with line search"
        )
    A = res["jac_ad"][i]
    both = np.isfinite(A) & np.isfinite(J)
    rel = np.abs(A - J)[both] / np.maximum(np.maximum(np.abs(A), np.abs(J))[both], 1e-300)
    max_rel = float(np.max(rel)) if rel.size else float("nan")

    bad = [(a, b) for a, b in zip(*np.nonzero(kind != SMOOTH), strict=True)]
    listing = []
    for a, b in bad:
        k = KIND_NAMES[kind[a, b]]
        if kind[a, b] == KINK:
            extra = f"(fwd {_fmt(detail['fwd'][a, b])}, bwd {_fmt(detail['bwd'][a, b])})"
        elif kind[a, b] == AD_WRONG:
            extra = f"(AD {_fmt(detail['ad'][a, b])} -> {_fmt(J[a, b])})"
        else:
            extra = ""
        listing.append(f"{_entry_text(names, a, b)}:{k}{extra}")
    nonsmooth = "; ".join(listing)
    n_wrong = int(np.sum(kind == AD_WRONG))
    n_unres = int(np.sum(kind == UNRESOLVED))
    ad_nonfinite = int(np.sum(~np.isfinite(A)))
    source = "autodiff" if n_wrong == 0 else "autodiff+quotients"
    if n_wrong and n_wrong == int(np.sum(A != J)) and n_wrong >= n * n // 2:
        source = "quotients"
    notes_list = [notes] if notes else []

    def no_verdict(reason: str) -> Verdict:
        nan, none = float("nan"), np.zeros(0, complex)
        text = "; ".join([reason, *notes_list])
        return Verdict(
            "non_differentiable", text, nan, none, J, source, nonsmooth, fixed_point, r_abs, ""
        )

    if not found:
        return no_verdict(f"no fixed point: {fixed_point}")

    if n_wrong:
        why = (
            f"AD non-finite at {ad_nonfinite} entries"
            if ad_nonfinite
            else f"AD differs from the quotients at {n_wrong} entries"
        )
        notes_list.append(f"{why}; the one-sided quotients agree there and replace them")
    if n_unres:
        notes_list.append(
            f"{n_unres} entries not confirmed by quotients (no converged limit within float64 "
            "resolution); AD value kept"
        )

    hard = (kind == KINK) | (kind == SINGULAR) | ((kind == UNRESOLVED) & ~np.isfinite(J))
    leaf_names = list(layout.names)
    if hard.any():
        adj = (J != 0) | ~np.isfinite(J) | hard
        comps = _sccs(adj)
        inside = np.zeros_like(hard)
        for comp in comps:
            inside[np.ix_(comp, comp)] = True
        what = "; ".join(
            f"{KIND_NAMES[kind[a, b]]} in {_entry_text(names, a, b)}"
            for a, b in zip(*np.nonzero(hard), strict=True)
        )
        if not (hard & inside).any():
            eigs = np.concatenate([np.linalg.eigvals(J[np.ix_(c, c)]) for c in comps])
            rho = _radius(eigs)
            red = _classify_rho(rho, tol)
            reason = (
                f"not differentiable at z*: {what}; these entries lie outside the diagonal "
                f"blocks of the block-triangular form, so every one-sided Jacobian has the same "
                f"eigenvalues: reduced-block verdict {red} (rho = {rho:.10g}, "
                f"1 - rho = {1 - rho:.3g})"
            )
            return Verdict(
                "non_differentiable",
                "; ".join([reason, *notes_list]),
                rho,
                eigs,
                J,
                source,
                nonsmooth,
                fixed_point,
                r_abs,
                _block_radii(np.where(hard, 0.0, J), names, leaf_of, leaf_names),
                reduced_verdict=red,
            )
        reason = f"no linear verdict: not differentiable at z* ({what})"
        return no_verdict(reason)

    # directional derivatives must be linear (catches max(a, b) at a tie)
    nonlinear = []
    for k in range(res["dirs"].shape[1]):
        u = res["dirs"][i, k]
        dv, de, dc = res["dir_value"][i, k], res["dir_err"][i, k], res["dir_code"][i, k]
        pred = J @ u
        slack = np.abs(J) @ np.abs(u)
        # the matrix's own scale in balanced coordinates (see classify_entries)
        frame = detail["size"] * detail["d"] * np.max(np.abs(u) / detail["d"])
        ok = (dc != CONVERGED) | (
            np.abs(dv - pred)
            <= 2 * de + 2 * (err @ np.abs(u)) + RTOL * (np.abs(dv) + slack + frame)
        )
        # a direction whose quotients do not converge says nothing; one that converges to a
        # different value than J u shows a non-linear directional derivative
        bad_rows = np.nonzero(~ok)[0]
        if bad_rows.size:
            nonlinear.append(names[int(bad_rows[0])])
    if nonlinear:
        reason = (
            "no linear verdict: the directional derivative along a random feasible direction "
            f"is not J u (row {nonlinear[0]}): not differentiable at z* (e.g. a max at a tie)"
        )
        return no_verdict(reason)

    if ad_nonfinite and n_wrong:
        notes_list.append(
            "differentiable at z* (the quotients converge and are linear) but not C1 where AD "
            "is non-finite: Lemma 2 does not apply, the linearisation theorem does"
        )
    eigs, vecs = np.linalg.eig(J)
    rho = _radius(eigs)
    status = _classify_rho(rho, tol)
    blocks = _block_radii(J, names, leaf_of, leaf_names)
    transverse = float("nan")
    if status == "undetermined":
        near = np.nonzero(np.abs(np.abs(eigs) - 1) <= tol)[0]
        along = []
        for k in near:
            v = np.abs(vecs[:, k])
            along += [names[c] for c in np.nonzero(v >= 0.1 * np.max(v))[0]]
        fam = np.asarray(res["family"][i], bool)
        text = (
            f"|lambda| = 1 within tol {tol:g} (rho = {rho:.12g}, 1 - rho = {1 - rho:.3g}) along "
            f"{', '.join(dict.fromkeys(along))}: Theorem 1 gives no verdict"
        )
        if fam.any():
            keep = np.nonzero(~fam)[0]
            sub = J[np.ix_(keep, keep)]
            transverse = _radius(np.linalg.eigvals(sub)) if keep.size else 0.0
            fam_names = ", ".join(names[k] for k in np.nonzero(fam)[0])
            text += (
                f"; z* lies on a family of fixed points along {fam_names} (eigenvalue exactly 1 "
                f"along it); transverse radius {transverse:.10g}"
            )
    else:
        text = f"rho = {rho:.10g} {'<' if status == 'stable' else '>'} 1 (1 - rho = {1 - rho:.3g})"
    return Verdict(
        status,
        "; ".join([text, *notes_list]),
        rho,
        eigs,
        J,
        source,
        nonsmooth,
        fixed_point,
        r_abs,
        blocks,
        transverse_radius=transverse,
        ad_quotient_max_rel_diff=max_rel,
    )
