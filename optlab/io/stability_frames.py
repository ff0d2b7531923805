"""Stability results -> tidy DataFrames: ``stability.csv`` (one row per grid point),
``eigenvalues.csv`` (one row per eigenvalue and source), ``boundary.csv`` (the stability
boundary along the learning-rate axis, per value of the other swept axes). No JAX here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

LINEAR = ("stable", "unstable", "undetermined")


def _theory_status(rho: float, tol: float) -> str:
    if not np.isfinite(rho):
        return ""
    if rho > 1 + tol:
        return "unstable"
    if rho < 1 - tol:
        return "stable"
    return "undetermined"


def linear_verdict(row) -> str:
    """The linear verdict of a row: its status, or the reduced-block verdict of a
    non-differentiable point ("" when there is none)."""
    if row["status"] in LINEAR:
        return row["status"]
    return row.get("reduced_verdict", "") or ""


def point_row(i, label, hp, verdict, theory, res, tol) -> dict:
    """One stability.csv row (without the simulation columns)."""
    rho = float(verdict.spectral_radius)
    d_th = theory.spectral_radius if theory is not None else float("nan")
    err = float("nan")
    if theory is not None and theory.eigenvalues is not None and len(verdict.eigenvalues):
        err = _match_error(verdict.eigenvalues, theory.eigenvalues)
    z, z0 = np.asarray(res["z"]), np.asarray(res["z0"])
    row = {"point": i, "label": label}
    row.update({f"hp_{k}": v for k, v in hp.items()})
    row.update(
        status=verdict.status,
        reason=verdict.reason,
        spectral_radius=rho,
        one_minus_rho=1 - rho if np.isfinite(rho) else float("nan"),
        spectral_radius_theory=d_th,
        theory_status=_theory_status(d_th, tol),
        theory=theory.name if theory is not None else "",
        theory_eig_error=err,
        phi=theory.phi if theory is not None else float("nan"),
        delta=theory.delta if theory is not None else float("nan"),
        eta_c_exact=theory.eta_c if theory is not None else float("nan"),
        eta_c_paper=theory.eta_c_paper if theory is not None else float("nan"),
        jacobian_source=verdict.jacobian_source,
        nonsmooth_entries=verdict.nonsmooth_entries,
        reduced_verdict=verdict.reduced_verdict,
        transverse_radius=verdict.transverse_radius,
        block_radii=verdict.block_radii,
        ad_quotient_max_rel_diff=verdict.ad_quotient_max_rel_diff,
        fixed_point=verdict.fixed_point,
        fixed_point_residual=verdict.fixed_point_residual,
        fixed_point_shift=float(np.max(np.abs(z - z0))) if z.size else 0.0,
        grad_norm_at_fixed_point=float(res["grad_norm"]),
        autonomy_gap=float(res["autonomy_gap"]),
        bias_correction="removed: step at t = 2**30",
    )
    return row


def _match_error(a, b) -> float:
    """Largest |a_k - b_k| / max(1, |b_k|) over a greedy nearest matching (relative for
    eigenvalues far outside the unit circle, absolute inside it)."""
    a, b = list(np.asarray(a, complex)), list(np.asarray(b, complex))
    if len(a) != len(b) or not a:
        return float("nan")
    worst = 0.0
    for x in sorted(a, key=lambda v: -abs(v)):
        k = int(np.argmin([abs(x - y) for y in b]))
        worst = max(worst, abs(x - b[k]) / max(1.0, abs(b[k])))
        b.pop(k)
    return worst


def agreement(row) -> str:
    """Linear verdict against the simulated class: yes / no / inconclusive / n/a."""
    lin = linear_verdict(row)
    sim = row.get("sim_class", "")
    if lin not in ("stable", "unstable"):
        return "n/a"
    if sim == "stalls":
        return "inconclusive"
    if lin == "stable":
        return "yes" if sim == "decays" else "no"
    return "yes" if sim in ("fluctuates", "diverges") else "no"


def stability_frame(rows: list[dict], names) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    first = ["point", "label", *(f"hp_{n}" for n in names)]
    rest = [c for c in df.columns if c not in first]
    return df[first + rest]


def eigen_rows(i, label, hp, verdict, theory) -> list[dict]:
    rows = []
    base = {"point": i, "label": label, **{f"hp_{k}": v for k, v in hp.items()}}
    sources = [("autodiff", verdict.eigenvalues, verdict.jacobian_source)]
    if theory is not None and theory.eigenvalues is not None:
        sources.append(("theory", theory.eigenvalues, theory.name))
    for source, eigs, detail in sources:
        eigs = np.asarray(eigs, complex)
        order = np.argsort(-np.abs(eigs), kind="stable")
        for k, lam in enumerate(eigs[order]):
            rows.append(
                {
                    **base,
                    "source": source,
                    "detail": detail,
                    "index": k,
                    "real": float(lam.real),
                    "imag": float(lam.imag),
                    "modulus": float(abs(lam)),
                }
            )
    return rows


def eigen_frame(rows: list[dict], names) -> pd.DataFrame:
    cols = [
        "point",
        "label",
        *(f"hp_{n}" for n in names),
        "source",
        "detail",
        "index",
        "real",
        "imag",
        "modulus",
    ]
    return pd.DataFrame(rows, columns=cols)


def boundary_axis(varied) -> str | None:
    """The axis the boundary is found along: the learning rate when it varies, else the
    first varied hyperparameter (None when nothing varies)."""
    if "learning_rate" in varied:
        return "learning_rate"
    return varied[0] if varied else None


def _bracket(x, unstable, below):
    """(last ``below`` point before the first ``unstable`` one, that first unstable point)
    along increasing x, and a note when there is no such switch."""
    bad = np.nonzero(unstable)[0]
    if bad.size == 0:
        return float("nan"), float("nan"), "no unstable point in range"
    k = int(bad[0])
    good = np.nonzero(below[:k])[0]
    if good.size == 0:
        return float("nan"), float(x[k]), "unstable from the start of the range"
    return float(x[good[-1]]), float(x[k]), ""


def boundary_frame(table: pd.DataFrame, axis: str, varied) -> pd.DataFrame:
    """Per combination of the other swept axes: the boundary along ``axis`` from the
    autodiff spectral radius, the exact closed form, the paper's (25), and the simulation
    (last ``decays`` / first ``fluctuates``/``diverges`` along the axis)."""
    others = [f"hp_{v}" for v in varied if v != axis]
    col = f"hp_{axis}"
    rows = []
    groups = table.groupby(others, sort=True) if others else [((), table)]
    for key, df in groups:
        key = key if isinstance(key, tuple) else (key,)
        df = df.sort_values(col)
        x = df[col].to_numpy(float)
        lin = df.apply(linear_verdict, axis=1).to_numpy()
        lo, hi, note = _bracket(x, lin == "unstable", lin == "stable")
        row = dict(zip(others, key, strict=True))
        row.update(
            axis=axis, points=len(df), linear_last_stable=lo, linear_first_unstable=hi, note=note
        )
        if axis == "learning_rate":
            exact = df["eta_c_exact"].to_numpy(float)
            paper = df["eta_c_paper"].to_numpy(float)
            row["boundary_exact"] = float(exact[0]) if np.isfinite(exact).any() else float("nan")
            row["boundary_paper"] = float(paper[0]) if np.isfinite(paper).any() else float("nan")
            ex, pa = row["boundary_exact"], row["boundary_paper"]
            row["paper_vs_exact"] = (pa - ex) / ex if np.isfinite(ex) and ex else float("nan")
            inside = np.isfinite(lo + hi + ex)
            row["linear_brackets_exact"] = bool(lo <= ex <= hi) if inside else None
        if "sim_class" in df.columns:
            cls = df["sim_class"].to_numpy()
            slo, shi, _ = _bracket(x, np.isin(cls, ("fluctuates", "diverges")), cls == "decays")
            row["sim_last_decays"], row["sim_first_unstable"] = slo, shi
            ex = row.get("boundary_exact", float("nan"))
            row["sim_brackets_exact"] = (
                bool(slo <= ex <= shi) if np.isfinite(slo + shi + ex) else None
            )
        rows.append(row)
    return pd.DataFrame(rows)


def add_refined(boundary, varied, axis, refined, refined_sim, other_names) -> pd.DataFrame:
    """Add the bisected boundaries ({key: (lo, hi)}, key = values of ``other_names``):
    ``boundary_refined`` (linear verdict) and ``sim_boundary_refined`` (simulated class),
    each the geometric mean of its final bracket, and their relative difference from the
    exact closed form."""
    b = boundary.copy()
    others = [v for v in varied if v != axis]
    pos = [other_names.index(v) for v in others]

    def column(found):
        vals = []
        for _, row in b.iterrows():
            hit = float("nan")
            for key, (lo, hi) in found.items():
                if all(
                    np.isclose(key[p], row[f"hp_{v}"], rtol=1e-12, atol=0)
                    for p, v in zip(pos, others, strict=True)
                ):
                    hit = math.sqrt(lo * hi)
            vals.append(hit)
        return np.asarray(vals, float)

    b["boundary_refined"] = column(refined)
    if "boundary_exact" in b:
        b["refined_vs_exact"] = (b["boundary_refined"] - b["boundary_exact"]) / b["boundary_exact"]
    if refined_sim is not None and len(refined_sim):
        b["sim_boundary_refined"] = column(refined_sim)
        if "boundary_exact" in b:
            b["sim_vs_exact"] = (b["sim_boundary_refined"] - b["boundary_exact"]) / b[
                "boundary_exact"
            ]
    return b


def summary(table: pd.DataFrame, boundary, axis, simulate: bool) -> dict:
    """Counts per status, agreement between theory, autodiff and simulation, the boundary."""
    out: dict = {
        "points": len(table),
        "status": {
            s: int((table["status"] == s).sum())
            for s in ("stable", "unstable", "undetermined", "non_differentiable")
        },
        "jacobian_source": table["jacobian_source"].value_counts().to_dict(),
    }
    red = table.loc[table["reduced_verdict"] != "", "reduced_verdict"]
    if len(red):
        out["reduced_verdict"] = red.value_counts().to_dict()
    has = table["theory"] != ""
    if has.any():
        lin = table.apply(linear_verdict, axis=1)
        same = (table.loc[has, "theory_status"] == lin[has]).sum()
        out["theory"] = {
            "points": int(has.sum()),
            "forms": sorted(table.loc[has, "theory"].unique().tolist()),
            "max_eigenvalue_error": float(np.nanmax(table.loc[has, "theory_eig_error"]))
            if table.loc[has, "theory_eig_error"].notna().any()
            else float("nan"),
            "same_verdict": int(same),
        }
    if simulate and "sim_class" in table.columns:
        nl = table["start_nonlinearity"].to_numpy(float)
        lin_start = pd.Series(nl < 0.1, index=table.index)
        outside = int(np.sum(nl >= 0.1))
        out["simulation"] = {
            "classes": {
                c: int((table["sim_class"] == c).sum())
                for c in ("decays", "fluctuates", "stalls", "diverges")
            },
            "underflow_flagged": int((table["sim_flag"] == "underflow").sum()),
            "stalls_creeping": int(
                ((table["sim_class"] == "stalls") & (table["sim_power"] < -0.5)).sum()
            ),
            "agreement": table["sim_agrees"].value_counts().to_dict(),
            "agreement_linear_start": table.loc[lin_start, "sim_agrees"].value_counts().to_dict(),
            "start_outside_linear_regime": outside,
            "start_regime_unknown": int(np.sum(~np.isfinite(nl))),
        }
    if boundary is not None and len(boundary):
        out["boundary_axis"] = axis
        out["boundary"] = boundary.replace({np.nan: None}).to_dict(orient="records")
    return out
