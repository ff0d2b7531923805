"""Verdicts in NumPy at the edge: entry classification, assembled Jacobian, eigenvalues with
error bounds, status and reason per grid point."""

from __future__ import annotations

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
from optlab.stability.spectrum import Spectrum, classify_rho, radius, sccs, spectrum
from optlab.stability.stepmap import Layout

LISTED = 6  # entries named in a reason; the rest are counted (all are in nonsmooth_entries)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """One grid point's result, built once with named fields (never mutated)."""

    status: str  # one of STATUSES
    reason: str
    spectrum: Spectrum  # eigenvalues with error bounds (empty: no linear verdict)
    jacobian: np.ndarray  # assembled (NaN where unknown)
    jacobian_source: str  # autodiff | autodiff+quotients | quotients
    nonsmooth_entries: str  # every entry that is not smooth, with its kind
    fixed_point: str
    fixed_point_residual: float  # max |H(z*) - z*| (absolute) at the point used
    block_radii: str = ""
    reduced_verdict: str = ""  # the block-triangular verdict of a non-differentiable point
    transverse_radius: float = float("nan")
    ad_quotient_max_rel_diff: float = float("nan")

    @property
    def spectral_radius(self) -> float:
        return self.spectrum.radius

    @property
    def eigenvalues(self) -> np.ndarray:
        return self.spectrum.values

    @property
    def linear_verdict(self) -> str:
        """The status, or the reduced-block verdict of a non-differentiable point."""
        return self.reduced_verdict if self.status == "non_differentiable" else self.status


def _agree(a, b, err, unit, tol=RTOL):
    """|a - b| within twice the quotient error plus tol relative to the values themselves
    and to an identity-sized term ``unit`` (entries that are small only by cancellation,
    1 - mu - phi (1 - b1), hold terms of that size). Nothing here grows with the rest of J:
    a kink of 0.2 is a kink however large the other entries are."""
    gap = np.abs(a - b)
    return gap <= 2 * err + tol * (np.maximum(np.abs(a), np.abs(b)) + unit) + 1e-300


def _units(res: dict, i: int) -> np.ndarray:
    """unit[r, c] = s_r / s_c with s = max(|z*|, 1): an identity-sized entry in the units
    of row r and column c."""
    s = np.maximum(np.abs(np.asarray(res["z"][i], float)), 1.0)
    return s[:, None] / s[None, :]


def classify_entries(res: dict, i: int):
    """Per-entry kinds, the assembled Jacobian and the per-entry error of point ``i``."""
    A = res["jac_ad"][i]
    fv, fe, fc = res["fwd_value"][i], res["fwd_err"][i], res["fwd_code"][i]
    bv, be, bc = res["bwd_value"][i], res["bwd_err"][i], res["bwd_code"][i]
    unit = _units(res, i)
    f_ok, b_ok = fc == CONVERGED, bc == CONVERGED
    one_sided = bc == NO_DATA  # backward not evaluable (domain) or not asked (>= 0 coordinate)
    sides_agree = f_ok & b_ok & _agree(fv, bv, fe + be, unit)
    kink = f_ok & b_ok & ~sides_agree
    singular = (fc == GROWS) | (bc == GROWS)
    both = np.where(one_sided, f_ok, sides_agree)
    q = np.where(one_sided | ~b_ok, fv, 0.5 * (fv + bv))
    q_err = np.where(one_sided | ~b_ok, fe, np.maximum(fe, be))
    ad_finite = np.isfinite(A)
    ad_ok = ad_finite & _agree(A, q, q_err, unit)
    kind = np.full(A.shape, UNRESOLVED, int)
    kind[both & ad_ok] = SMOOTH
    kind[both & ~ad_ok] = AD_WRONG
    kind[kink] = KINK
    kind[singular] = SINGULAR
    J = np.where(kind == SMOOTH, A, np.nan)
    J = np.where(kind == AD_WRONG, q, J)
    J = np.where((kind == UNRESOLVED) & ad_finite, A, J)
    # an entry's own error: the quotient's where it replaced AD (the rounding of AD values
    # is part of the backward error that optlab.stability.spectrum adds)
    err = np.where(kind == AD_WRONG, q_err, 0.0)
    detail = {"fwd": fv, "bwd": bv, "ad": A}
    return kind, J, err, detail


_sccs = sccs  # the name the package exported before spectrum.py held it


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _entry_text(names, i, j) -> str:
    return f"{names[i]}<-{names[j]}"


def _bounded(items: list[str]) -> str:
    """The first LISTED items, then how many more (a reason stays one readable line)."""
    if len(items) <= LISTED:
        return "; ".join(items)
    return "; ".join(items[:LISTED]) + f"; and {len(items) - LISTED} more"


def _block_radii(J, names, leaf_of, leaf_names) -> str:
    """Radii of the diagonal blocks of the block-triangular form, blocks named by leaves."""
    adj = (J != 0) | np.isnan(J)
    merged: dict[str, float] = {}
    for comp in sccs(adj):
        sub = J[np.ix_(comp, comp)]
        leaves = dict.fromkeys(leaf_names[leaf_of[c]] for c in comp)
        many = len(comp) > 1 or len(names) > len(leaf_names)
        label = "+".join(leaves) if many else names[comp[0]]
        rad = radius(np.linalg.eigvals(sub)) if np.all(np.isfinite(sub)) else float("nan")
        merged[label] = max(merged.get(label, 0.0), rad) if np.isfinite(rad) else float("nan")
    return "; ".join(f"{k}={_fmt(v)}" for k, v in merged.items())


@dataclass(frozen=True)
class _Point:
    """What the verdict of one grid point is built from."""

    kind: np.ndarray
    J: np.ndarray
    err: np.ndarray
    detail: dict
    names: list[str]
    notes: list[str]
    fixed_point: str
    found: bool
    residual: float
    source: str
    nonsmooth: str
    max_rel: float


def verdicts(res: dict, layout: Layout, tol: float = 1e-8, notes=()) -> list[Verdict]:
    """Status and reason for every grid point of an analysis ``res`` (see the package
    docstring). ``notes``: a string for every point, or one list of strings per point
    (facts about the point that go into its reason)."""
    g = res["z"].shape[0]
    per_point = [[notes] if notes else [] for _ in range(g)] if isinstance(notes, str) else notes
    per_point = list(per_point) or [[] for _ in range(g)]
    return [_verdict(_point(res, i, layout, per_point[i]), res, i, layout, tol) for i in range(g)]


def _fixed_point_text(res, i, layout) -> tuple[str, bool]:
    r0, r = float(res["residual0"][i]), float(res["residual"][i])
    d = layout.sizes[0]
    x_f = np.abs(res["z"][i][:d])
    dx = np.abs(res["correction"][i][:d])
    # rounding-limited: the remaining Newton correction of x is a few ulp of x
    at_resolution = bool(np.all(np.isfinite(dx)) and np.all(dx <= 64 * np.spacing(x_f)))
    found = r <= FIXED_POINT_TOL or at_resolution
    if r0 == 0:
        return "z0 = (x*, init state) is exact", True
    if not found:
        return (
            f"no fixed point found near (x*, init state): relative residual {r:.3g} after "
            "Newton with line search"
        ), False
    moved = np.asarray(res["z"][i] - res["z0"][i])
    dx_moved = float(np.max(np.abs(moved[:d])))
    ds_moved = float(np.max(np.abs(moved[d:]))) if moved.size > d else 0.0
    where = f"x moved {dx_moved:.3g} from x*" if dx_moved else "x* unchanged"
    if ds_moved:
        where += f", the state moved {ds_moved:.3g} from its init value"
    limited = ", limited by the float64 resolution of x" if r > FIXED_POINT_TOL else ""
    return f"shifted: solved H(z) = z by Newton ({where}; relative residual {r:.2g}{limited})", True


def _point(res, i, layout, notes) -> _Point:
    kind, J, err, detail = classify_entries(res, i)
    names = layout.coordinate_names()
    fixed_point, found = _fixed_point_text(res, i, layout)
    A = res["jac_ad"][i]
    both = np.isfinite(A) & np.isfinite(J)
    rel = np.abs(A - J)[both] / np.maximum(np.maximum(np.abs(A), np.abs(J))[both], 1e-300)
    listing = []
    for a, b in zip(*np.nonzero(kind != SMOOTH), strict=True):
        extra = ""
        if kind[a, b] == KINK:
            extra = f"(fwd {_fmt(detail['fwd'][a, b])}, bwd {_fmt(detail['bwd'][a, b])})"
        elif kind[a, b] == AD_WRONG:
            extra = f"(AD {_fmt(detail['ad'][a, b])} -> {_fmt(J[a, b])})"
        listing.append(f"{_entry_text(names, a, b)}:{KIND_NAMES[kind[a, b]]}{extra}")
    n_wrong = int(np.sum(kind == AD_WRONG))
    source = "autodiff" if n_wrong == 0 else "autodiff+quotients"
    if n_wrong and n_wrong == int(np.sum(A != J)) and n_wrong >= J.shape[0] ** 2 // 2:
        source = "quotients"
    return _Point(
        kind,
        J,
        err,
        detail,
        names,
        _quotient_notes(kind, A) + list(notes),
        fixed_point,
        found,
        float(res["residual_abs"][i]),
        source,
        "; ".join(listing),
        float(np.max(rel)) if rel.size else float("nan"),
    )


def _quotient_notes(kind, A) -> list[str]:
    n_wrong, n_unres = int(np.sum(kind == AD_WRONG)), int(np.sum(kind == UNRESOLVED))
    ad_nonfinite = int(np.sum(~np.isfinite(A)))
    notes = []
    if n_wrong:
        why = (
            f"AD non-finite at {ad_nonfinite} entries"
            if ad_nonfinite
            else f"AD differs from the quotients at {n_wrong} entries"
        )
        notes.append(f"{why}; the one-sided quotients agree there and replace them")
    if n_unres:
        notes.append(
            f"{n_unres} entries not confirmed by quotients (no converged limit within float64 "
            "resolution); AD value kept"
        )
    return notes


def _verdict(p: _Point, res, i, layout, tol) -> Verdict:
    if not p.found:
        return _no_verdict(p, f"no fixed point: {p.fixed_point}")
    hard = (p.kind == KINK) | (p.kind == SINGULAR) | ((p.kind == UNRESOLVED) & ~np.isfinite(p.J))
    if hard.any():
        return _non_differentiable(p, hard, layout, tol)
    bad_row = _nonlinear_row(p, res, i)
    if bad_row is not None:
        return _no_verdict(
            p,
            "no linear verdict: the directional derivative along a random feasible direction "
            f"is not J u (row {bad_row}): not differentiable at z* (e.g. a max at a tie)",
        )
    return _linear(p, res, i, layout, tol)


def _build(p: _Point, status: str, reason: str, spectrum: Spectrum, after=(), **extra):
    """The verdict of point ``p``: its status, reason (then the point's notes, then
    ``after``) and spectrum; the rest from p."""
    return Verdict(
        status=status,
        reason="; ".join([reason, *p.notes, *after]),
        spectrum=spectrum,
        jacobian=p.J,
        jacobian_source=p.source,
        nonsmooth_entries=p.nonsmooth,
        fixed_point=p.fixed_point,
        fixed_point_residual=p.residual,
        ad_quotient_max_rel_diff=p.max_rel,
        **extra,
    )


def _no_verdict(p: _Point, reason: str) -> Verdict:
    return _build(p, "non_differentiable", reason, Spectrum.empty())


def _non_differentiable(p: _Point, hard, layout, tol) -> Verdict:
    """Entries without a derivative: when all of them lie outside the diagonal blocks of the
    block-triangular form, every one-sided Jacobian has the same eigenvalues (those of the
    blocks) and the reduced verdict is theirs (Aida with p = 1: the kink of |g| in r <- x)."""
    what = _bounded(
        [
            f"{KIND_NAMES[p.kind[a, b]]} in {_entry_text(p.names, a, b)}"
            for a, b in zip(*np.nonzero(hard), strict=True)
        ]
    )
    adj = (p.J != 0) | ~np.isfinite(p.J) | hard
    inside = np.zeros_like(hard)
    for comp in sccs(adj):
        inside[np.ix_(comp, comp)] = True
    if (hard & inside).any():
        return _no_verdict(p, f"no linear verdict: not differentiable at z* ({what})")
    reduced = np.where(hard, 0.0, p.J)  # the blocks' eigenvalues are those of J
    spec = spectrum(reduced, np.where(hard, 0.0, p.err))
    red = classify_rho(spec.radius, tol, spec.radius_error)
    reason = (
        f"not differentiable at z*: {what}; these entries lie outside the diagonal blocks of "
        "the block-triangular form, so every one-sided Jacobian has the same eigenvalues: "
        f"reduced-block verdict {red} ({spec.describe()})"
    )
    blocks = _block_radii(reduced, p.names, layout.leaf_of(), list(layout.names))
    return _build(p, "non_differentiable", reason, spec, block_radii=blocks, reduced_verdict=red)


def _nonlinear_row(p: _Point, res, i) -> str | None:
    """The first row whose directional derivative along a random direction converged to a
    value other than J u (a max at a tie), or None. A direction whose quotients do not
    converge says nothing."""
    unit = _units(res, i)
    for k in range(res["dirs"].shape[1]):
        u = np.asarray(res["dirs"][i, k])
        dv, de, dc = res["dir_value"][i, k], res["dir_err"][i, k], res["dir_code"][i, k]
        pred = p.J @ u
        slack = np.abs(p.J) @ np.abs(u) + unit @ np.abs(u)
        ok = (dc != CONVERGED) | (
            np.abs(dv - pred) <= 2 * de + 2 * (p.err @ np.abs(u)) + RTOL * (np.abs(dv) + slack)
        )
        bad = np.nonzero(~ok)[0]
        if bad.size:
            return p.names[int(bad[0])]
    return None


def _linear(p: _Point, res, i, layout, tol) -> Verdict:
    after = []
    if np.any(~np.isfinite(res["jac_ad"][i])) and np.any(p.kind == AD_WRONG):
        after.append(
            "differentiable at z* (the quotients converge and are linear) but not C1 where AD "
            "is non-finite: Lemma 2 does not apply, the linearisation theorem does"
        )
    spec = spectrum(p.J, p.err)
    status = classify_rho(spec.radius, tol, spec.radius_error)
    transverse = float("nan")
    if status == "undetermined":
        text, transverse = _undetermined(p, spec, res["family"][i], tol)
    else:
        text = spec.describe("< 1" if status == "stable" else "> 1")
    blocks = _block_radii(p.J, p.names, layout.leaf_of(), list(layout.names))
    return _build(p, status, text, spec, after, block_radii=blocks, transverse_radius=transverse)


def _undetermined(p: _Point, spec: Spectrum, family, tol) -> tuple[str, float]:
    """The reason of an undetermined point: along which coordinates |lambda| = 1, and the
    transverse radius when z* lies on a family of fixed points."""
    margin = max(tol, spec.radius_error)
    near = np.nonzero(np.abs(np.abs(spec.values) - 1) <= margin)[0]
    along = []
    for k in near:
        v = np.abs(spec.vectors[:, k])
        along += [p.names[c] for c in np.nonzero(v >= 0.1 * np.max(v))[0]]
    text = (
        f"|lambda| = 1 within tol {tol:g} ({spec.describe()}) along "
        f"{_bounded(list(dict.fromkeys(along)))}: Theorem 1 gives no verdict"
    )
    fam = np.asarray(family, bool)
    if not fam.any():
        return text, float("nan")
    keep = np.nonzero(~fam)[0]
    sub = p.J[np.ix_(keep, keep)]
    transverse = radius(np.linalg.eigvals(sub)) if keep.size else 0.0
    fam_names = _bounded([p.names[k] for k in np.nonzero(fam)[0]])
    text += (
        f"; z* lies on a family of fixed points along {fam_names} (eigenvalue exactly 1 "
        f"along it); transverse radius {transverse:.10g}"
    )
    return text, transverse
