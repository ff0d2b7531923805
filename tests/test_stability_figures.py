"""What the stability figures draw, read back from the matplotlib objects (no JAX): the
rho = 1 line at the refined boundary, theory curves from the plotted slice only, a colour
scale anchored at rho = 1, axes inside each hyperparameter's domain, labels from the
optimizer's record."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import QuadMesh

from optlab.plots import stability as plots

ETA = np.geomspace(1e-6, 1e-4, 5)
EPS = np.array([1e-12, 1e-10])


def sweep(third=(0.0,)):
    """A (learning_rate, eps, mu) table whose boundary is eta_c = 3.8 sqrt(eps) (1 + mu),
    and its boundary.csv rows (the refined value a little off the cell edges on purpose)."""
    rows, brows = [], []
    for k, (lr, eps, mu) in enumerate(itertools.product(ETA, EPS, third)):
        eta_c = 3.8 * np.sqrt(eps) * (1 + mu)
        rho = (lr / eta_c) ** 0.5
        status = "stable" if rho < 1 else "unstable"
        rows.append(
            {"point": k, "hp_learning_rate": lr, "hp_eps": eps, "hp_mu": mu, "spectral_radius": rho}
            | {"status": status, "sim_class": "decays" if rho < 1 else "fluctuates"}
        )
    for eps, mu in itertools.product(EPS, third):
        eta_c = 3.8 * np.sqrt(eps) * (1 + mu)
        stable = ETA[eta_c > ETA].max()
        unstable = ETA[eta_c < ETA].min()
        brows.append(
            {
                "hp_eps": eps,
                "hp_mu": mu,
                "linear_last_stable": stable,
                "linear_first_unstable": unstable,
                "boundary_exact": eta_c,
                "boundary_paper": 0.99 * eta_c,
                "boundary_refined": eta_c * (1 + 1e-12),
            }
        )
    return pd.DataFrame(rows), pd.DataFrame(brows)


DOMAINS = {"learning_rate": (0.0, None), "eps": (0.0, None), "mu": (0.0, 1.0)}


def lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_rho_one_line_is_the_refined_boundary():
    table, boundary = sweep()
    fig = plots.spectral_radius_map(
        table, boundary, ("learning_rate", "eps"), "learning_rate", "eps", domains=DOMAINS
    )
    line = lines(fig.axes[0])[r"$\rho = 1$ (analyzer, refined)"]
    want = np.repeat(3.8 * np.sqrt(EPS) * (1 + 1e-12), 2)  # vertical across each row's cell
    np.testing.assert_allclose(line.get_xdata(), want, rtol=1e-15)
    # not a contour between cell centres: it lies inside the cells next to eta_c, at eta_c
    assert not np.any(np.isin(line.get_xdata(), ETA))
    edges = plots._edges(EPS, True)
    np.testing.assert_allclose(line.get_ydata(), [edges[0], edges[1], edges[1], edges[2]])


def test_theory_curves_come_from_the_plotted_slice():
    table, boundary = sweep(third=(0.0, 0.5))
    varied = ("learning_rate", "eps", "mu")
    fig = plots.spectral_radius_map(
        table, boundary, varied, "learning_rate", "eps", domains=DOMAINS
    )
    ax = fig.axes[0]
    assert "slice mu=0" in ax.get_title()
    drawn = lines(ax)
    exact = drawn["exact boundary (theory)"].get_xdata()
    np.testing.assert_allclose(exact, np.repeat(3.8 * np.sqrt(EPS), 2))  # mu = 0 rows only
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(legend) == set(drawn)  # nothing listed that is not drawn


def test_colour_scale_is_anchored_at_one_and_stable_cells_look_stable():
    table, boundary = sweep()
    table.loc[0, "spectral_radius"] = 1e-16  # one cell far below the others
    table.loc[1, "spectral_radius"] = np.nan  # no linear verdict
    fig = plots.spectral_radius_map(
        table, boundary, ("learning_rate", "eps"), "learning_rate", "eps", domains=DOMAINS
    )
    mesh = next(c for c in fig.axes[0].collections if isinstance(c, QuadMesh))
    norm = mesh.norm
    assert norm.vcenter == 0.0 and norm.vmin >= -plots.STABLE_DECADES and norm.vmax > 0
    cmap = mesh.get_cmap()
    stable = np.asarray(cmap(norm(np.log10(0.95))))
    unstable = np.asarray(cmap(norm(np.log10(1.05))))
    grey = np.asarray(cmap(np.ma.masked_invalid([np.nan]))[0])
    assert stable[2] > stable[0] + 0.1 and unstable[0] > unstable[2] + 0.1
    assert np.abs(stable[:3] - grey[:3]).max() > 0.1  # a stable cell is not "no verdict" grey
    assert fig.axes[1].get_ylabel().startswith(r"$\log_{10}\rho(J)$")


def test_axes_stay_inside_the_domains_and_use_the_record_symbols():
    b1 = np.linspace(0.0, 0.99, 12)
    b2 = np.geomspace(0.5, 0.999, 12)
    rows = [
        {"point": k, "hp_b1": x, "hp_b2": y, "spectral_radius": 0.5 + x, "status": "stable"}
        for k, (x, y) in enumerate(itertools.product(b1, b2))
    ]
    fig = plots.spectral_radius_map(
        pd.DataFrame(rows),
        None,
        ("b1", "b2"),
        "b1",
        "b2",
        domains={"b1": (0.0, 1.0), "b2": (0.0, 1.0)},
        symbols={"b1": "α", "b2": "β"},
    )
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
    assert ax.get_xlim() == pytest.approx((0.0, 1.0))  # not below 0, not above 1
    assert ax.get_ylim()[1] == pytest.approx(1.0) and ax.get_ylim()[0] > 0.45
    assert ax.get_xlabel() == "α (b1)" and ax.get_ylabel() == "β (b2)"


def test_eigenvalue_axis_names_the_closed_forms_own_delta():
    """Adam's phi axis says what delta is for Adam, not Aida's eps^(1/p)."""
    table = pd.DataFrame(
        {
            "point": [0, 1],
            "hp_learning_rate": [1e-9, 1e-8],
            "delta": [1e-8, 1e-8],
            "eta_c_exact": [3.8e-8, 3.8e-8],
            "spectral_radius": [0.95, 0.97],
        }
    )
    eigen = pd.DataFrame(
        {
            "point": [0, 1],
            "hp_learning_rate": [1e-9, 1e-8],
            "source": ["autodiff", "autodiff"],
            "index": [0, 0],
            "modulus": [0.95, np.nan],  # the second: below its accuracy, not drawn
            "real": [0.95, np.nan],
            "imag": [0.0, np.nan],
        }
    )
    fig = plots.eigenvalue_moduli(table, eigen, "learning_rate", symbols={"learning_rate": "η"})
    ax = fig.axes[0]
    assert "1/p" not in ax.get_xlabel() and "form b" not in ax.get_xlabel()
    assert ax.get_xlabel().startswith("η (learning_rate) / delta (delta = 1e-08")
    assert len(ax.collections[0].get_offsets()) == 1
