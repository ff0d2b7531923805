"""What a stability analysis reports per grid point, per eigenvalue, per boundary and in sum:
plain rows (dicts) and pandas frames built from the verdicts, the closed forms and the
simulation. Everything that compares or classifies lives here; ``optlab.io`` only lays the
tables out and writes them. No JAX, no matplotlib.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from optlab.stability.spectrum import EPS, classify_rho

LINEAR = ("stable", "unstable", "undetermined")
SIM_UNSTABLE = ("fluctuates", "diverges")


def linear_verdict(row) -> str:
    """The linear verdict of a row: its status, or the reduced-block verdict of a
    non-differentiable point ("" when there is none)."""
    if row["status"] in LINEAR:
        return row["status"]
    return row.get("reduced_verdict", "") or ""


def compare_with_theory(spec, theory_eigs) -> tuple[float, bool | None]:
    """(largest |a - b| / max(1, |b|) over the resolved autodiff eigenvalues a, each paired
    with the nearest closed-form b; whether every pair, resolved or not, agrees within the
    autodiff bound plus the closed form's own rounding). (NaN, None) without both."""
    a = np.asarray(spec.values, complex)
    if theory_eigs is None or not len(a) or len(a) != len(theory_eigs):
        return float("nan"), None
    b = list(np.asarray(theory_eigs, complex))
    worst, within = 0.0, True
    for k in np.argsort(-np.abs(a), kind="stable"):
        j = int(np.argmin([abs(a[k] - y) for y in b]))
        gap = abs(a[k] - b[j])
        within &= bool(gap <= spec.errors[k] + 16 * EPS * max(1.0, abs(b[j])))
        if spec.resolved[k]:
            worst = max(worst, gap / max(1.0, abs(b[j])))
        b.pop(j)
    return worst, within


def point_row(i, label, hp, verdict, theory, res, tol) -> dict:
    """One stability.csv row (without the simulation and start-regime columns)."""
    rho = float(verdict.spectral_radius)
    d_th = theory.spectral_radius if theory is not None else float("nan")
    err, within = compare_with_theory(
        verdict.spectrum, theory.eigenvalues if theory is not None else None
    )
    z, z0 = np.asarray(res["z"]), np.asarray(res["z0"])
    nan = float("nan")
    row = {"point": i, "label": label, **{f"hp_{k}": v for k, v in hp.items()}}
    row.update(
        status=verdict.status,
        reason=verdict.reason,
        spectral_radius=rho,
        spectral_radius_error=verdict.spectrum.radius_error,
        one_minus_rho=1 - rho if np.isfinite(rho) else nan,
        spectral_radius_theory=d_th,
        theory_status=classify_rho(d_th, tol) if np.isfinite(d_th) else "",
        theory=theory.name if theory is not None else "",
        theory_eig_error=err,
        theory_within_bounds=within,
        phi=theory.phi if theory is not None else nan,
        delta=theory.delta if theory is not None else nan,
        eta_c_exact=theory.eta_c if theory is not None else nan,
        eta_c_paper=theory.eta_c_paper if theory is not None else nan,
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
    return "yes" if sim in SIM_UNSTABLE else "no"


def eigen_rows(i, label, hp, verdict, theory) -> list[dict]:
    """One eigenvalues.csv row per eigenvalue and source. An autodiff eigenvalue carries its
    error bound; one below it is not a number float64 can give (real, imag and modulus are
    left empty and ``accuracy`` says so)."""
    rows = []
    base = {"point": i, "label": label, **{f"hp_{k}": v for k, v in hp.items()}}
    spec = verdict.spectrum
    order = np.argsort(-np.abs(spec.values), kind="stable")
    for k, j in enumerate(order):
        lam, bound = complex(spec.values[j]), float(spec.errors[j])
        ok = bool(spec.resolved[j])
        rows.append(
            {
                **base,
                "source": "autodiff",
                "detail": verdict.jacobian_source,
                "index": k,
                "real": lam.real if ok else float("nan"),
                "imag": lam.imag if ok else float("nan"),
                "modulus": abs(lam) if ok else float("nan"),
                "error_bound": bound,
                "accuracy": "" if ok else f"|lambda| <= {bound:.2g}: below the achievable accuracy",
            }
        )
    if theory is not None and theory.eigenvalues is not None:
        eigs = np.asarray(theory.eigenvalues, complex)
        for k, lam in enumerate(eigs[np.argsort(-np.abs(eigs), kind="stable")]):
            rows.append(
                {
                    **base,
                    "source": "theory",
                    "detail": theory.name,
                    "index": k,
                    "real": float(lam.real),
                    "imag": float(lam.imag),
                    "modulus": float(abs(lam)),
                    "error_bound": float("nan"),
                    "accuracy": "",
                }
            )
    return rows


def boundary_axis(varied) -> str | None:
    """The axis the boundary is found along: the learning rate when it varies, else the
    first varied hyperparameter (None when nothing varies)."""
    if "learning_rate" in varied:
        return "learning_rate"
    return varied[0] if varied else None


def _bracket(x, unstable, stable):
    """(the stable point, the unstable point) of the first adjacent switch along increasing
    x, in either order, and a note when there is no such switch."""
    for k in range(len(x) - 1):
        if stable[k] and unstable[k + 1]:
            return float(x[k]), float(x[k + 1]), ""
        if unstable[k] and stable[k + 1]:
            return float(x[k + 1]), float(x[k]), ""
    if not np.any(unstable):
        return float("nan"), float("nan"), "no unstable point in range"
    if not np.any(stable):
        return float("nan"), float("nan"), "no stable point in range"
    return float("nan"), float("nan"), "no adjacent stable and unstable points"


def boundary_frame(table: pd.DataFrame, axis: str, varied) -> pd.DataFrame:
    """Per combination of the other swept axes: the boundary along ``axis`` from the
    linear verdicts, the exact closed form, the paper's sufficient condition, and the
    simulation (last ``decays`` / first ``fluctuates``/``diverges`` along the axis)."""
    others = [f"hp_{v}" for v in varied if v != axis]
    col = f"hp_{axis}"
    rows = []
    groups = table.groupby(others, sort=True) if others else [((), table)]
    for key, df in groups:
        key = key if isinstance(key, tuple) else (key,)
        df = df.sort_values(col)
        x = df[col].to_numpy(float)
        lin = df.apply(linear_verdict, axis=1).to_numpy()
        lo, hi, note = _bracket(x, lin == "unstable", lin == "stable")  # stable, unstable side
        row = dict(zip(others, key, strict=True))
        row.update(
            axis=axis, points=len(df), linear_last_stable=lo, linear_first_unstable=hi, note=note
        )
        if axis == "learning_rate":
            row.update(_closed_form_boundary(df, lo, hi))
        if "sim_class" in df.columns:
            cls = df["sim_class"].to_numpy()
            slo, shi, _ = _bracket(x, np.isin(cls, SIM_UNSTABLE), cls == "decays")
            row["sim_last_decays"], row["sim_first_unstable"] = slo, shi
            ex = row.get("boundary_exact", float("nan"))
            inside = np.isfinite(slo + shi + ex)
            row["sim_brackets_exact"] = (
                bool(min(slo, shi) <= ex <= max(slo, shi)) if inside else None
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _closed_form_boundary(df, lo, hi) -> dict:
    exact = df["eta_c_exact"].to_numpy(float)
    paper = df["eta_c_paper"].to_numpy(float)
    ex = float(exact[0]) if np.isfinite(exact).any() else float("nan")
    pa = float(paper[0]) if np.isfinite(paper).any() else float("nan")
    inside = np.isfinite(lo + hi + ex)
    return {
        "boundary_exact": ex,
        "boundary_paper": pa,
        "paper_vs_exact": (pa - ex) / ex if np.isfinite(ex) and ex else float("nan"),
        "linear_brackets_exact": bool(min(lo, hi) <= ex <= max(lo, hi)) if inside else None,
    }


def add_refined(boundary, varied, axis, found: dict, other_names) -> pd.DataFrame:
    """Add bisected boundaries: ``found`` maps a column name (``boundary_refined`` for the
    linear verdict, ``sim_boundary_refined`` for the simulated class, ``boundary_exact``
    for a closed form along an axis other than the learning rate) to {key: (stable end,
    unstable end)}, key = values of ``other_names``. Each value is the midpoint of its final
    bracket (geometric for positive ends); the relative differences from the exact closed
    form follow."""
    b = boundary.copy()
    others = [v for v in varied if v != axis]
    pos = [other_names.index(v) for v in others]

    def column(brackets):
        vals = []
        for _, row in b.iterrows():
            hit = float("nan")
            for key, (lo, hi) in brackets.items():
                if all(
                    np.isclose(key[p], row[f"hp_{v}"], rtol=1e-12, atol=0)
                    for p, v in zip(pos, others, strict=True)
                ):
                    hit = math.sqrt(lo * hi) if lo > 0 and hi > 0 else 0.5 * (lo + hi)
            vals.append(hit)
        return np.asarray(vals, float)

    for name, brackets in found.items():
        if brackets or name == "boundary_refined":
            b[name] = column(brackets)
    if "boundary_exact" in b:
        for name, rel in (
            ("boundary_refined", "refined_vs_exact"),
            ("sim_boundary_refined", "sim_vs_exact"),
        ):
            if name in b:
                b[rel] = (b[name] - b["boundary_exact"]) / b["boundary_exact"]
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
    if (table["theory"] != "").any():
        out["theory"] = _theory_summary(table)
    if simulate and "sim_class" in table.columns:
        out["simulation"] = _simulation_summary(table)
    if boundary is not None and len(boundary):
        out["boundary_axis"] = axis
        out["boundary"] = boundary.replace({np.nan: None}).to_dict(orient="records")
    return out


def _theory_summary(table) -> dict:
    has = table["theory"] != ""
    lin = table.apply(linear_verdict, axis=1)
    errors = table.loc[has, "theory_eig_error"]
    within = table.loc[has, "theory_within_bounds"]
    return {
        "points": int(has.sum()),
        "forms": sorted(table.loc[has, "theory"].unique().tolist()),
        # over the eigenvalues above their achievable accuracy (see eigenvalues.csv)
        "max_eigenvalue_error": float(np.nanmax(errors)) if errors.notna().any() else None,
        "within_error_bounds": int((within == True).sum()),  # noqa: E712 (None: no pair)
        "compared": int(within.notna().sum()),
        "same_verdict": int((table.loc[has, "theory_status"] == lin[has]).sum()),
    }


def _simulation_summary(table) -> dict:
    nl = table["start_nonlinearity"].to_numpy(float)
    lin_start = pd.Series(nl < 0.1, index=table.index)
    return {
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
        "start_outside_linear_regime": int(np.sum(nl >= 0.1)),
        "start_regime_unknown": int(np.sum(~np.isfinite(nl))),
    }
