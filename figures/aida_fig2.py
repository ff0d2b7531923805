"""Aida paper (arXiv:2112.06125) Figs. 2-3, as a stability map: f = 5x^2, x0 = 1e-10,
(b1, b2, mu) = (0.9, 0.999, 1e-10) (Fig. 2's b2), eta in [1e-8, 1e-2] x eps in [1e-30, 1e-10]
(61 x 21 points), T = 20000 steps of the full bias-corrected iteration at every point, for
(p, q) = (2, 1), (2, 2), (1, 2). Each panel is `optlab stability`'s class map: the simulated
class per point with the linear boundary rho = 1 (autodiff), the exact boundary and the
paper's condition (25) drawn over it.

    python figures/aida_fig2.py            # writes figures/aida_fig2_pq21.png, _pq22, _pq12
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optlab import api_stability
from optlab.config import StabilityConfig
from optlab.io import outputs

HERE = Path(__file__).resolve().parent
GRID = (
    ("learning_rate", tuple(np.geomspace(1e-8, 1e-2, 61).tolist())),
    ("eps", tuple(np.geomspace(1e-30, 1e-10, 21).tolist())),
    ("b2", (0.999,)),
    ("mu", (1e-10,)),
)


def main() -> list[Path]:
    written = []
    for p, q in ((2, 1), (2, 2), (1, 2)):
        config = StabilityConfig(
            hyper=(("p", (float(p),)), ("q", (float(q),)), *GRID), simulate=True
        )
        result = api_stability.stability(config)  # computes; writes nothing
        classes = result.table["sim_class"].value_counts().to_dict()
        print(f"(p, q) = ({p}, {q}): {result.summary['status']}; simulated {classes}")
        dst = HERE / f"aida_fig2_pq{p}{q}.png"
        outputs.write_figure(result.figures()["sim_classes"], dst)
        print(f"wrote {dst}")
        written.append(dst)
    return written


if __name__ == "__main__":
    main()
