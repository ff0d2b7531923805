"""Stability tables as DataFrames in their file layout: ``stability.csv`` (one row per grid
point), ``eigenvalues.csv`` (one row per eigenvalue and source). The rows are computed in
:mod:`optlab.stability.report`; here they are only ordered. No JAX here.
"""

from __future__ import annotations

import pandas as pd

EIGEN_COLUMNS = (
    "source",
    "detail",
    "index",
    "real",
    "imag",
    "modulus",
    "error_bound",
    "accuracy",
)


def stability_frame(rows: list[dict], names) -> pd.DataFrame:
    """Grid columns first (point, label, hp_*), then the rest in the rows' order."""
    df = pd.DataFrame(rows)
    first = ["point", "label", *(f"hp_{n}" for n in names)]
    rest = [c for c in df.columns if c not in first]
    return df[first + rest]


def eigen_frame(rows: list[dict], names) -> pd.DataFrame:
    cols = ["point", "label", *(f"hp_{n}" for n in names), *EIGEN_COLUMNS]
    return pd.DataFrame(rows, columns=cols)
