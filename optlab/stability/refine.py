"""The stability boundary between grid points, by bisection along the boundary axis with the
same compiled analysis (or simulation) that classified the grid.

Along a positive, unbounded axis (the learning rate, eps) the bisection is in log scale: a
cell of ratio 10 shrinks to a ratio 1 + 2e-12 in REFINE_STEPS steps; along a bounded axis
(b1, b2, momentum in [0, 1)) it is in linear scale (a cell of 0.1 shrinks to 1e-13).
"""

from __future__ import annotations

import numpy as np

from optlab.stability.verdicts import verdicts as classify

REFINE_STEPS = 40


def brackets(grid, unstable_at, stable_at, axis: str):
    """Per combination of the other swept axes: (stable point, unstable point), the first
    adjacent pair along increasing ``axis`` where a ``stable_at`` point meets an
    ``unstable_at`` one, in either order (larger learning rates destabilise, larger b1
    stabilises)."""
    k_axis = list(grid.names).index(axis)
    rows: dict[tuple, list[int]] = {}
    for i, point in enumerate(grid.points):
        key = tuple(v for k, v in enumerate(point) if k != k_axis)
        rows.setdefault(key, []).append(i)
    out = {}
    for key, idx in rows.items():
        idx = sorted(idx, key=lambda i: grid.points[i][k_axis])
        for a, b in zip(idx[:-1], idx[1:], strict=True):
            if stable_at(a) and unstable_at(b):
                out[key] = (a, b)
                break
            if unstable_at(a) and stable_at(b):
                out[key] = (b, a)
                break
    return out, k_axis


def bisect(grid, found: dict, k_axis: int, evaluate, log: bool) -> dict:
    """Bisect every (stable, unstable) bracket at once; ``evaluate(points) -> [bool
    unstable]``. Returns {key: (stable end, unstable end)}."""
    keys = list(found)
    s = np.asarray([grid.points[found[k][0]][k_axis] for k in keys], float)
    u = np.asarray([grid.points[found[k][1]][k_axis] for k in keys], float)
    base = [list(grid.points[found[k][0]]) for k in keys]
    log = log and bool(np.all(s > 0) and np.all(u > 0))
    for _ in range(REFINE_STEPS):
        mid = np.sqrt(s * u) if log else 0.5 * (s + u)
        points = []
        for b, m in zip(base, mid, strict=True):
            p = list(b)
            p[k_axis] = float(m)
            points.append(p)
        bad = np.asarray(evaluate(points), bool)
        u = np.where(bad, mid, u)
        s = np.where(bad, s, mid)
    return {k: (float(a), float(b)) for k, a, b in zip(keys, s, u, strict=True)}


def as_batch(hyper_type, names, points):
    cols = np.asarray(points, dtype=np.float64)
    return hyper_type(**{n: cols[:, k] for k, n in enumerate(names)})


def refine_linear(plan, verdicts: dict, analyzers: dict, axis: str, log: bool, tol: float):
    """Where the linear verdict turns from stable to unstable along ``axis``, per row of
    the other axes. ``verdicts``/``analyzers``: by grid point."""
    found, k_axis = brackets(
        plan.grid,
        lambda i: verdicts[i].linear_verdict == "unstable",
        lambda i: verdicts[i].linear_verdict == "stable",
        axis,
    )
    by_analyzer: dict[int, dict] = {}
    for key, (a, b) in found.items():
        by_analyzer.setdefault(id(analyzers[a][0]), {})[key] = (a, b)
    out = {}
    for group in by_analyzer.values():
        analyzer, layout = analyzers[next(iter(group.values()))[0]]

        def evaluate(points, analyzer=analyzer, layout=layout):
            res = analyzer.run(as_batch(type(plan.opt.hyper), plan.grid.names, points))
            # the crossing itself (rho > 1), not rho > 1 + tol
            return [v.spectral_radius > 1 for v in classify(res, layout, tol=tol)]

        out.update(bisect(plan.grid, group, k_axis, evaluate, log))
    return out
