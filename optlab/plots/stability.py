"""Stability figures, functions of the tables ``optlab stability`` writes (never imports JAX).

- ``spectral_radius``: a heatmap of log10 rho over two swept axes (colours anchored at
  rho = 1: blue stable, red unstable, grey no linear verdict), the analyzer's refined
  boundary rho = 1 and, where a closed form exists, the exact boundary and the paper's
  sufficient condition, all from the plotted slice of ``boundary.csv``;
- ``sim_classes``: the simulated classes on the same axes, with the same curves;
- ``eigenvalues``: with one swept axis, |lambda_i| against eta/delta (Fig. 1 of Zhang,
  Niwa, Kleijn, arXiv:2112.06125; delta is the closed form's phi denominator), autodiff
  markers over the closed-form lines; with no swept axis, the eigenvalues in the complex
  plane with the unit circle.

Axes stay inside each hyperparameter's domain and are labelled with the optimizer record's
symbols.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optlab.plots.style import log_scale, new_figure

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
NO_VERDICT = "#9e9e9e"  # grey cells: no linear verdict (the colormap itself has no grey)
STABLE_DECADES = 2.0  # the stable side of the colour scale: rho from 0.01 to 1


def _label(axis: str, symbols: dict | None) -> str:
    """The axis label: the optimizer record's paper symbol for this hyperparameter, else a
    generic symbol by hyperparameter name, else the name itself."""
    symbol = (symbols or {}).get(axis)
    if symbol:
        return f"{symbol} ({axis})" if symbol != axis else axis
    return NICE.get(axis, axis)


def _is_log(values, domain) -> bool:
    """Log scale for a positive axis without an upper bound (learning rate, eps); linear
    for bounded ones (b1, b2, momentum in [0, 1))."""
    high = domain[1] if domain else None
    return bool(np.all(np.asarray(values, float) > 0)) and high is None


def _edges(values: np.ndarray, log: bool = True, domain=None) -> np.ndarray:
    """Cell edges around sorted centres (geometric midpoints on a log axis), clipped to the
    hyperparameter's domain so that no cell reaches outside it (b1 below 0, b2 above 1)."""
    v = np.asarray(values, float)
    log = log and bool(np.all(v > 0))
    if v.size == 1:
        edges = np.array([v[0] / 1.5, v[0] * 1.5]) if log else np.array([v[0] - 1, v[0] + 1])
    elif log:
        lv = np.log10(v)
        mid = (lv[1:] + lv[:-1]) / 2
        edges = 10 ** np.concatenate(
            [[lv[0] - (mid[0] - lv[0])], mid, [lv[-1] + (lv[-1] - mid[-1])]]
        )
    else:
        mid = (v[1:] + v[:-1]) / 2
        edges = np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])
    low, high = domain if domain else (None, None)
    return np.clip(edges, low if low is not None else -np.inf, high if high is not None else np.inf)


def _slice(table: pd.DataFrame, varied, x_axis: str, y_axis: str):
    """The rows with the first value of every other swept axis: (rows, {axis: value}, a
    note saying so)."""
    rest = [v for v in varied if v not in (x_axis, y_axis)]
    df, fixed = table, {}
    for v in rest:
        fixed[v] = sorted(df[f"hp_{v}"].unique())[0]
        df = df[df[f"hp_{v}"] == fixed[v]]
    note = " (slice " + ", ".join(f"{k}={v:g}" for k, v in fixed.items()) + ")" if fixed else ""
    return df, fixed, note


def _boundary_slice(boundary, fixed: dict, y_axis: str):
    """The boundary rows of the plotted slice, sorted along the y axis (None: nothing)."""
    if boundary is None or not len(boundary) or f"hp_{y_axis}" not in boundary:
        return None
    b = boundary
    for v, value in fixed.items():
        if f"hp_{v}" in b:
            b = b[np.isclose(b[f"hp_{v}"].to_numpy(float), value, rtol=1e-12, atol=0)]
    return b.sort_values(f"hp_{y_axis}") if len(b) else None


def _rho_one_line(ax, b, y_axis, log: bool, y_edges) -> None:
    """rho = 1 where the analyzer put it: the refined boundary of each row (bisected with
    the same analysis), else the edge between its stable and unstable cells. Each row's
    value is drawn across that row's cell only (a step line): between rows nothing was
    computed, so nothing is interpolated."""
    if b is None:
        return
    lo, hi = b["linear_last_stable"].to_numpy(float), b["linear_first_unstable"].to_numpy(float)
    edge = np.sqrt(lo * hi) if log else 0.5 * (lo + hi)
    if "boundary_refined" in b:
        refined = b["boundary_refined"].to_numpy(float)
        edge = np.where(np.isfinite(refined), refined, edge)
    xs, ys = boundary_steps(edge, b[f"hp_{y_axis}"].to_numpy(float), y_edges)
    if np.isfinite(xs).any():
        ax.plot(xs, ys, color="gold", lw=1.8, label=r"$\rho = 1$ (analyzer, refined)")


def boundary_steps(x, y, y_edges):
    """A step line through boundary values ``x`` at row centres ``y``: vertical across each
    row's cell (``y_edges`` of the plotted grid), NaN where a row has no boundary."""
    y_edges = np.asarray(y_edges, float)
    xs, ys = [], []
    for xv, yv in zip(x, y, strict=True):
        k = int(np.clip(np.searchsorted(y_edges, yv) - 1, 0, len(y_edges) - 2))
        xs += [xv, xv]
        ys += [y_edges[k], y_edges[k + 1]]
    return np.asarray(xs, float), np.asarray(ys, float)


def _theory_curves(ax, b, y_axis, y_edges) -> None:
    """The exact boundary and the paper's sufficient condition from the boundary rows of the
    plotted slice only, as step lines across each row's cell like the analyzer's."""
    if b is None or "boundary_exact" not in b:
        return
    y = b[f"hp_{y_axis}"].to_numpy(float)
    ex = b["boundary_exact"].to_numpy(float)
    pa = b["boundary_paper"].to_numpy(float) if "boundary_paper" in b else np.full(len(b), np.nan)
    if np.isfinite(ex).any():
        xs, ys = boundary_steps(ex, y, y_edges)
        ax.plot(xs, ys, color="black", lw=1.2, ls=(0, (4, 2)), label="exact boundary (theory)")
    if np.isfinite(pa).any():
        xs, ys = boundary_steps(pa, y, y_edges)
        ax.plot(xs, ys, color="white", lw=1.0, ls=":", label="paper's sufficient condition")


def _grid(df, x_axis, y_axis, value):
    piv = df.pivot_table(
        index=f"hp_{y_axis}", columns=f"hp_{x_axis}", values=value, aggfunc="first", dropna=False
    )
    return piv.columns.to_numpy(float), piv.index.to_numpy(float), piv.to_numpy()


def rho_colormap():
    """RdBu_r without its white middle: blue below rho = 1, red above, so a barely stable
    cell is light blue, never the grey of "no linear verdict"."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    base = colormaps["RdBu_r"]
    colours = np.vstack([base(np.linspace(0.0, 0.38, 128)), base(np.linspace(0.62, 1.0, 128))])
    return ListedColormap(colours, name="rho").with_extremes(bad=NO_VERDICT)


def rho_norm(log_rho: np.ndarray):
    """Anchored at rho = 1 (log10 rho = 0); the stable side spans at most two decades (a
    cell with rho ~ 1e-16 does not wash the others out: below 0.01 is the darkest blue)."""
    from matplotlib.colors import TwoSlopeNorm

    finite = log_rho[np.isfinite(log_rho)]
    lo = float(np.clip(finite.min(), -STABLE_DECADES, -1e-3)) if finite.size else -1.0
    hi = float(max(finite.max(), 1e-3)) if finite.size else 1.0
    return TwoSlopeNorm(vmin=lo, vcenter=0.0, vmax=hi)


def _frame(ax, x, y, x_axis, y_axis, ctx) -> None:
    domains, symbols = ctx.get("domains") or {}, ctx.get("symbols")
    xlog, ylog = _is_log(x, domains.get(x_axis)), _is_log(y, domains.get(y_axis))
    if xlog:
        log_scale(ax, "x")
    if ylog:
        log_scale(ax, "y")
    xe, ye = _edges(x, xlog, domains.get(x_axis)), _edges(y, ylog, domains.get(y_axis))
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel(_label(x_axis, symbols))
    ax.set_ylabel(_label(y_axis, symbols))


def spectral_radius_map(table, boundary, varied, x_axis, y_axis, title="", **ctx):
    df, fixed, note = _slice(table, varied, x_axis, y_axis)
    x, y, rho = _grid(df, x_axis, y_axis, "spectral_radius")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rho = np.log10(np.asarray(rho, float))
    domains = ctx.get("domains") or {}
    xlog, ylog = _is_log(x, domains.get(x_axis)), _is_log(y, domains.get(y_axis))
    fig, ax = new_figure(7.5, 5.0)
    ax.grid(False)
    mesh = ax.pcolormesh(
        _edges(x, xlog, domains.get(x_axis)),
        _edges(y, ylog, domains.get(y_axis)),
        np.ma.masked_invalid(log_rho),
        cmap=rho_colormap(),
        norm=rho_norm(log_rho),
        shading="flat",
    )
    norm = mesh.norm
    finite = log_rho[np.isfinite(log_rho)]
    clipped = bool(finite.size and finite.min() < norm.vmin)
    bar = fig.colorbar(
        mesh,
        ax=ax,
        extend="min" if clipped else "neither",
        label=r"$\log_{10}\rho(J)$ (grey: no linear verdict)",
    )
    ticks = np.concatenate([np.linspace(norm.vmin, 0.0, 3), np.linspace(0.0, norm.vmax, 5)[1:]])
    bar.set_ticks(ticks, labels=[f"{t:.2g}" for t in ticks])
    b = _boundary_slice(boundary, fixed, y_axis)
    y_edges = _edges(y, ylog, domains.get(y_axis))
    _rho_one_line(ax, b, y_axis, xlog, y_edges)
    _theory_curves(ax, b, y_axis, y_edges)
    _frame(ax, x, y, x_axis, y_axis, ctx)
    ax.set_title(f"spectral radius of the step map at z*{note}\n{title}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8, framealpha=0.8)
    return fig


def sim_class_map(table, boundary, varied, x_axis, y_axis, title="", **ctx):
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    df, fixed, note = _slice(table, varied, x_axis, y_axis)
    classes = list(CLASS_COLORS)
    codes = df.assign(_code=df["sim_class"].map({c: k for k, c in enumerate(classes)}))
    x, y, grid = _grid(codes, x_axis, y_axis, "_code")
    domains = ctx.get("domains") or {}
    xlog, ylog = _is_log(x, domains.get(x_axis)), _is_log(y, domains.get(y_axis))
    fig, ax = new_figure(7.5, 5.0)
    ax.grid(False)
    ax.pcolormesh(
        _edges(x, xlog, domains.get(x_axis)),
        _edges(y, ylog, domains.get(y_axis)),
        np.ma.masked_invalid(np.asarray(grid, float)),
        cmap=ListedColormap([CLASS_COLORS[c] for c in classes]),
        vmin=-0.5,
        vmax=len(classes) - 0.5,
        shading="flat",
    )
    b = _boundary_slice(boundary, fixed, y_axis)
    y_edges = _edges(y, ylog, domains.get(y_axis))
    _rho_one_line(ax, b, y_axis, xlog, y_edges)
    _theory_curves(ax, b, y_axis, y_edges)
    handles = [Patch(color=CLASS_COLORS[c], label=c) for c in classes]
    lines, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + lines, loc="lower right", fontsize=8, framealpha=0.8)
    _frame(ax, x, y, x_axis, y_axis, ctx)
    ax.set_title(f"simulated iteration from x* + delta{note}\n{title}", fontsize=9)
    return fig


def eigenvalue_moduli(table, eigen, axis, title="", **ctx):
    """Fig. 1 style: |lambda_i| against eta/delta (delta: the closed form's phi
    denominator, when it is one number over the sweep), else against the swept axis.
    Eigenvalues below their achievable accuracy are not drawn (they are not numbers)."""
    fig, ax = new_figure()
    delta = table["delta"].to_numpy(float) if "delta" in table else np.zeros(0)
    use_phi = (
        axis == "learning_rate" and delta.size and np.isfinite(delta).all() and np.ptp(delta) == 0
    )
    scale = float(delta[0]) if use_phi else 1.0

    def xs(df):
        return df[f"hp_{axis}"].to_numpy(float) / scale

    th = eigen[eigen["source"] == "theory"]
    for k, df in th.groupby("index"):
        df = df.sort_values(f"hp_{axis}")
        label = "closed form" if k == 0 else None
        ax.plot(xs(df), df["modulus"], lw=1.2, color="C0", alpha=0.7, label=label)
    ad = eigen[(eigen["source"] == "autodiff") & eigen["modulus"].notna()]
    ax.scatter(
        xs(ad),
        ad["modulus"],
        s=12,
        facecolors="none",
        edgecolors="C3",
        label="autodiff (eigvals of J)",
    )
    ax.axhline(1.0, color="black", lw=0.8, ls=":")
    values = xs(table)
    if use_phi and "eta_c_exact" in table and np.isfinite(table["eta_c_exact"]).any():
        xc = float(table["eta_c_exact"].iloc[0]) / scale
        if values.min() <= xc <= values.max():  # listed only where it is drawn
            ax.axvline(xc, color="black", lw=1, ls="--", label=f"exact boundary {xc:.4g}")
    if _is_log(values, (ctx.get("domains") or {}).get(axis)):
        log_scale(ax, "x")
    if values.min() < values.max():  # limits from the grid, so an empty plot still has them
        ax.set_xlim(values.min(), values.max())
    if len(ad) and (ad["modulus"] > 0).all():
        log_scale(ax, "y")
    if not len(ad) and not len(th):
        ax.text(
            0.5,
            0.5,
            "no linear verdict at any point\n(see status and reason in stability.csv)",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
    name = _label(axis, ctx.get("symbols"))
    ax.set_xlabel(
        f"{name} / delta (delta = {scale:.4g}, the closed form's phi denominator)"
        if use_phi
        else name
    )
    ax.set_ylabel(r"$|\lambda_i|$")
    ax.set_title(f"eigenvalue moduli of J at z*\n{title}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig


def sim_strip(table, axis, title="", **ctx):
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
    if _is_log(table[f"hp_{axis}"], (ctx.get("domains") or {}).get(axis)):
        log_scale(ax, "x")
    log_scale(ax, "y")
    ax.set_xlabel(_label(axis, ctx.get("symbols")))
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


def figures_for(table, eigen, boundary, varied, axis, title="", domains=None, symbols=None) -> dict:
    """The figures that fit the sweep: {name: Figure}. Two or more swept axes: maps over
    (``axis``, the next swept axis), the rest sliced at their first value; one: the moduli
    against it; none: the complex plane. ``domains`` ({axis: (low, high)}) keep cells inside
    each hyperparameter's domain; ``symbols`` (the optimizer record's) label the axes."""
    figs = {}
    varied = list(varied)
    ctx = {"domains": dict(domains or {}), "symbols": dict(symbols or {})}
    has_sim = "sim_class" in table.columns
    if len(varied) >= 2:
        y_axis = next(v for v in varied if v != axis)
        figs["spectral_radius"] = spectral_radius_map(
            table, boundary, varied, axis, y_axis, title, **ctx
        )
        if has_sim:
            figs["sim_classes"] = sim_class_map(table, boundary, varied, axis, y_axis, title, **ctx)
    elif len(varied) == 1:
        figs["eigenvalues"] = eigenvalue_moduli(table, eigen, axis, title, **ctx)
        if has_sim:
            figs["sim_classes"] = sim_strip(table, axis, title, **ctx)
    else:
        figs["eigenvalues"] = complex_plane(eigen, title)
    return figs
