"""Stability figures, functions of the tables ``optlab stability`` writes (never imports JAX).

- ``spectral_radius``: a heatmap of rho over two swept axes (log10 rho, diverging at 1), the
  autodiff contour rho = 1 and the theoretical boundary (exact, and the paper's (25) dashed);
- ``sim_classes``: the simulated classes on the same axes, with the same two curves;
- ``eigenvalues``: with one swept axis, |lambda_i| against eta/delta (Fig. 1 of Zhang, Niwa, Kleijn,
  arXiv:2112.06125: delta = sqrt(eps) for (p, q) = (2, 1)), autodiff markers over the closed-form
  lines; with no swept axis, the eigenvalues in the complex plane with the unit circle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optlab.plots.style import new_figure

CLASS_COLORS = {
    "decays": "#2b8a3e",
    "stalls": "#f08c00",
    "fluctuates": "#c92a2a",
    "diverges": "#343a40",
}
NICE = {
    "learning_rate": r"$\eta$",
    "eps": r"$\epsilon$",
    "mu": r"$\mu$",
    "b1": r"$\beta_1$",
    "b2": r"$\beta_2$",
    "momentum": r"$\beta$",
}


def _name(axis: str) -> str:
    return NICE.get(axis, axis)


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres (geometric midpoints for positive values)."""
    v = np.asarray(values, float)
    if v.size == 1:
        return np.array([v[0] / 1.5, v[0] * 1.5]) if v[0] > 0 else np.array([v[0] - 1, v[0] + 1])
    if np.all(v > 0):
        lv = np.log10(v)
        mid = (lv[1:] + lv[:-1]) / 2
        ends = [[lv[0] - (mid[0] - lv[0])], mid, [lv[-1] + (lv[-1] - mid[-1])]]
        return 10 ** np.concatenate(ends)
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _slice(table: pd.DataFrame, varied, x_axis: str, y_axis: str):
    """The rows with the first value of every other swept axis, and a note saying so."""
    rest = [v for v in varied if v not in (x_axis, y_axis)]
    df = table
    fixed = []
    for v in rest:
        first = sorted(df[f"hp_{v}"].unique())[0]
        df = df[df[f"hp_{v}"] == first]
        fixed.append(f"{v}={first:g}")
    return df, (" (slice " + ", ".join(fixed) + ")") if fixed else ""


def _log_axes(ax, x, y):
    if np.all(np.asarray(x) > 0):
        ax.set_xscale("log")
    if np.all(np.asarray(y) > 0):
        ax.set_yscale("log")


def _theory_curves(ax, boundary, x_axis, y_axis):
    """The exact boundary and the paper's (25) as curves x_c(y)."""
    if boundary is None or "boundary_exact" not in boundary or f"hp_{y_axis}" not in boundary:
        return
    b = boundary.sort_values(f"hp_{y_axis}")
    y = b[f"hp_{y_axis}"].to_numpy(float)
    ex = b["boundary_exact"].to_numpy(float)
    pa = b["boundary_paper"].to_numpy(float)
    if np.isfinite(ex).any():
        ax.plot(ex, y, color="black", lw=1.6, label="exact boundary (theory)")
    if np.isfinite(pa).any():
        ax.plot(pa, y, color="white", lw=1.2, ls="--", label="paper (25)")


def _grid(df, x_axis, y_axis, value):
    piv = df.pivot_table(
        index=f"hp_{y_axis}", columns=f"hp_{x_axis}", values=value, aggfunc="first", dropna=False
    )
    return piv.columns.to_numpy(float), piv.index.to_numpy(float), piv.to_numpy()


def spectral_radius_map(table, boundary, varied, x_axis, y_axis, title=""):
    from matplotlib import colormaps
    from matplotlib.colors import TwoSlopeNorm

    df, note = _slice(table, varied, x_axis, y_axis)
    x, y, rho = _grid(df, x_axis, y_axis, "spectral_radius")
    rho = np.asarray(rho, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.log10(rho)
    finite = lr[np.isfinite(lr)]
    fig, ax = new_figure(7.5, 5.0)
    ax.grid(False)
    lo = float(min(finite.min(), -1e-3)) if finite.size else -1.0
    hi = float(max(finite.max(), 1e-3)) if finite.size else 1.0
    cmap = colormaps["RdBu_r"].with_extremes(bad="#bbbbbb")
    mesh = ax.pcolormesh(
        _edges(x),
        _edges(y),
        np.ma.masked_invalid(lr),
        cmap=cmap,
        norm=TwoSlopeNorm(vmin=lo, vcenter=0.0, vmax=hi),
        shading="flat",
    )
    fig.colorbar(mesh, ax=ax, label=r"$\log_{10}\rho(J)$ (grey: no linear verdict)")
    if finite.size and finite.min() < 0 < finite.max() and len(x) > 1 and len(y) > 1:
        ax.contour(
            x, y, np.where(np.isfinite(lr), lr, np.nan), levels=[0.0], colors="gold", linewidths=1.6
        )
        ax.plot([], [], color="gold", lw=1.6, label=r"$\rho = 1$ (autodiff)")
    _theory_curves(ax, boundary, x_axis, y_axis)
    _log_axes(ax, x, y)
    ax.set_xlim(_edges(x)[0], _edges(x)[-1])
    ax.set_ylim(_edges(y)[0], _edges(y)[-1])
    ax.set_xlabel(_name(x_axis))
    ax.set_ylabel(_name(y_axis))
    ax.set_title(f"spectral radius of the step map at z*{note}\n{title}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8, framealpha=0.8)
    return fig


def sim_class_map(table, boundary, varied, x_axis, y_axis, title=""):
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    df, note = _slice(table, varied, x_axis, y_axis)
    classes = list(CLASS_COLORS)
    codes = df.assign(_code=df["sim_class"].map({c: k for k, c in enumerate(classes)}))
    x, y, grid = _grid(codes, x_axis, y_axis, "_code")
    fig, ax = new_figure(7.5, 5.0)
    ax.grid(False)
    cmap = ListedColormap([CLASS_COLORS[c] for c in classes])
    ax.pcolormesh(
        _edges(x),
        _edges(y),
        np.ma.masked_invalid(np.asarray(grid, float)),
        cmap=cmap,
        vmin=-0.5,
        vmax=len(classes) - 0.5,
        shading="flat",
    )
    _, _, rho = _grid(df, x_axis, y_axis, "spectral_radius")
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.log10(np.asarray(rho, float))
    finite = lr[np.isfinite(lr)]
    handles = [Patch(color=CLASS_COLORS[c], label=c) for c in classes]
    if finite.size and finite.min() < 0 < finite.max() and len(x) > 1 and len(y) > 1:
        ax.contour(x, y, lr, levels=[0.0], colors="gold", linewidths=1.6)
        ax.plot([], [], color="gold", lw=1.6, label=r"$\rho = 1$ (autodiff)")
    _theory_curves(ax, boundary, x_axis, y_axis)
    lines, labels = ax.get_legend_handles_labels()
    ax.legend(handles=handles + lines, loc="lower right", fontsize=8, framealpha=0.8)
    _log_axes(ax, x, y)
    ax.set_xlim(_edges(x)[0], _edges(x)[-1])
    ax.set_ylim(_edges(y)[0], _edges(y)[-1])
    ax.set_xlabel(_name(x_axis))
    ax.set_ylabel(_name(y_axis))
    ax.set_title(f"simulated iteration from x* + delta{note}\n{title}", fontsize=9)
    return fig


def eigenvalue_moduli(table, eigen, axis, title=""):
    """Fig. 1 style: |lambda_i| against eta/delta (or against the swept axis)."""
    fig, ax = new_figure()
    delta = table.set_index("point")["delta"] if "delta" in table else None
    use_phi = (
        axis == "learning_rate"
        and delta is not None
        and np.isfinite(delta.to_numpy(float)).all()
        and table["delta"].nunique() == 1
    )

    def xs(df):
        v = df[f"hp_{axis}"].to_numpy(float)
        return v / float(table["delta"].iloc[0]) if use_phi else v

    th = eigen[eigen["source"] == "theory"]
    for k, df in th.groupby("index"):
        df = df.sort_values(f"hp_{axis}")
        ax.plot(
            xs(df),
            df["modulus"],
            lw=1.2,
            color="C0",
            alpha=0.7,
            label="closed form" if k == 0 else None,
        )
    ad = eigen[eigen["source"] == "autodiff"]
    ax.scatter(
        xs(ad),
        ad["modulus"],
        s=12,
        facecolors="none",
        edgecolors="C3",
        label="autodiff (eigvals of J)",
    )
    ax.axhline(1.0, color="black", lw=0.8, ls=":")
    if use_phi and "eta_c_exact" in table and np.isfinite(table["eta_c_exact"]).any():
        xc = float(table["eta_c_exact"].iloc[0]) / float(table["delta"].iloc[0])
        ax.axvline(xc, color="black", lw=1, ls="--", label=f"exact boundary {xc:.4g}")
    values = xs(table)
    if np.all(values > 0):
        ax.set_xscale("log")
    if values.min() < values.max():  # limits from the grid, so an empty plot still has them
        ax.set_xlim(values.min(), values.max())
    if (ad["modulus"] > 0).all() and len(ad):
        ax.set_yscale("log")
    if not len(ad) and not len(th):
        ax.text(
            0.5,
            0.5,
            "no linear verdict at any point\n(see status and reason in stability.csv)",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
    ax.set_xlabel(
        r"$\eta/\delta$ ($\delta = \epsilon^{1/p}$, or $\epsilon$ in form b)"
        if use_phi
        else _name(axis)
    )
    ax.set_ylabel(r"$|\lambda_i|$")
    ax.set_title(f"eigenvalue moduli of J at z*\n{title}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig


def sim_strip(table, axis, title=""):
    """One swept axis: the simulated final distance against it, coloured by class."""
    fig, ax = new_figure()
    for cls, color in CLASS_COLORS.items():
        df = table[table["sim_class"] == cls]
        if len(df):
            ax.scatter(
                df[f"hp_{axis}"],
                df["sim_final_dist"].clip(lower=1e-320),
                s=16,
                color=color,
                label=cls,
            )
    if np.all(table[f"hp_{axis}"] > 0):
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(_name(axis))
    ax.set_ylabel(r"final $|x_T - x_f|$")
    ax.set_title(f"simulated iteration from x* + delta\n{title}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig


def complex_plane(eigen, title=""):
    fig, ax = new_figure(5.5, 5.0)
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), color="black", lw=0.8, ls=":")
    for source, marker, color in (("theory", "x", "C0"), ("autodiff", "o", "C3")):
        df = eigen[eigen["source"] == source]
        if len(df):
            ax.scatter(
                df["real"],
                df["imag"],
                marker=marker,
                s=30,
                color=color,
                facecolors="none" if marker == "o" else color,
                label=source,
            )
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("Re lambda")
    ax.set_ylabel("Im lambda")
    ax.set_title(f"eigenvalues of J at z*\n{title}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig


def figures_for(table, eigen, boundary, varied, axis, title="") -> dict:
    """The figures that fit the sweep: {name: Figure}."""
    figs = {}
    varied = list(varied)
    has_sim = "sim_class" in table.columns
    if len(varied) >= 2:
        y_axis = next(v for v in varied if v != axis)
        figs["spectral_radius"] = spectral_radius_map(table, boundary, varied, axis, y_axis, title)
        if has_sim:
            figs["sim_classes"] = sim_class_map(table, boundary, varied, axis, y_axis, title)
    elif len(varied) == 1:
        figs["eigenvalues"] = eigenvalue_moduli(table, eigen, axis, title)
        if has_sim:
            figs["sim_classes"] = sim_strip(table, axis, title)
    else:
        figs["eigenvalues"] = complex_plane(eigen, title)
    return figs
