"""Aida paper (arXiv:2112.06125) Fig. 4: ||grad f(x_t)|| on the ten Andrei functions (n = 100)
for Aida with (p, q) in {(2, 1), (2, 2), (1, 2)}, (b1, b2, mu, lr, eps) = (0.9, 0.99, 0, 1e-3,
1e-50). The paper does not state the iteration count; 10^4 is the lab's choice.

    python figures/aida_fig4.py            # writes figures/aida_fig4.png
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from optlab import api
from optlab.config import RunConfig
from optlab.plots.curves import suite_grid

STEPS = 10_000
HERE = Path(__file__).resolve().parent


def main() -> Path:
    traces = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(1, 11):
            name = f"fun{k}"
            config = RunConfig(
                problem=name,
                optimizers=("aida_pq[p=2,q=1]", "aida_pq[p=2,q=2]", "aida_pq[p=1,q=2]"),
                steps=STEPS,
                out=str(Path(tmp) / name),
            )
            result = api.run(config)
            traces[name] = result.trace
            print(result.summary[["label", "final_grad_norm"]].to_string(index=False))
    fig = suite_grid(traces, title=f"Aida(p, q) on the Andrei suite, n = 100, {STEPS} steps")
    path = HERE / "aida_fig4.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
