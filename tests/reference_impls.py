"""NumPy transcriptions of the algorithm boxes, written independently of optlab.

Each takes a list of gradient arrays (trajectory-free) or a gradient function, works in
float64 and follows the paper's box literally (no numerical rearrangements), so it checks
both the rule and optlab's careful evaluation of it.
"""

from __future__ import annotations

import numpy as np


def aida_pq(x0, grads, *, lr, b1, b2, eps, p, q, mu, form="a"):
    """Aida(p, q), Zhang, Niwa, Kleijn (arXiv:2112.06125) Algorithm 1 (0-based as printed, with the
    EMA weights in the order of eqs. (3), (12), (17): m <- b1 m + (1 - b1) g;
    docs/optimizers.md#aida_pq corrections).

    x_{t+1} = (1-mu) x_t - lr * (1-b2^{t+1})^{q/p} / (1-b1^{t+1})^q * |m|^q sgn(m) / (r+eps)^{q/p}
    form b: x_{t+1} = (1-mu) x_t
                      - lr * (1-b2^{t+1})^{q/p} |m|^q sgn(m) / ((1-b1^{t+1})^q r^{q/p} + eps)
    Returns the iterates x_1 .. x_T.
    """
    x = np.array(x0, dtype=np.float64)
    m = np.zeros_like(x)
    r = np.zeros_like(x)
    out = []
    for t, g in enumerate(grads):  # t = 0, 1, ...
        g = np.asarray(g, dtype=np.float64)
        m = b1 * m + (1 - b1) * g
        r = b2 * r + (1 - b2) * np.abs(g) ** p
        bc1 = 1 - b1 ** (t + 1)
        bc2 = 1 - b2 ** (t + 1)
        mag = np.abs(m) ** q * np.sign(m)
        if form == "a":
            den = (r + eps) ** (q / p)
            step = lr * bc2 ** (q / p) / bc1**q * _div(mag, den)
        else:
            den = bc1**q * r ** (q / p) + eps
            step = lr * bc2 ** (q / p) * _div(mag, den)
        x = (1 - mu) * x - step
        out.append(x.copy())
    return out


def _div(num, den):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den == 0, 0.0, out)


def adam(x0, grads, *, lr, b1, b2, eps, weight_decay=0.0, mu=0.0, eps_mode="E1"):
    """Adam (Kingma & Ba, Alg. 1) with the eps placements of docs/optimizers.md#epsilon-placements,
    and AdamW's decoupled decay (1 - lr*weight_decay) or the un-scaled (1 - mu)."""
    x = np.array(x0, dtype=np.float64)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    out = []
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, dtype=np.float64)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g + (eps if eps_mode == "E5" else 0.0)
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        if eps_mode == "E1":
            d = (m / bc1) / (np.sqrt(v / bc2) + eps)
        elif eps_mode == "E2":
            d = (m / bc1) / np.sqrt(v / bc2 + eps)
        elif eps_mode == "E3":  # (sqrt(bc2)/bc1) m / sqrt(v + eps): the raw form
            d = np.sqrt(bc2) / bc1 * m / np.sqrt(v + eps)
        elif eps_mode == "E4":  # (sqrt(bc2)/bc1) m / (sqrt(v) + eps): Kingma & Ba's efficient form
            d = np.sqrt(bc2) / bc1 * m / (np.sqrt(v) + eps)
        else:
            d = (m / bc1) / np.sqrt(v / bc2)
        x = (1 - mu - lr * weight_decay) * x - lr * d
        out.append(x.copy())
    return out


def sgd(x0, grads, *, lr):
    x = np.array(x0, dtype=np.float64)
    out = []
    for g in grads:
        x = x - lr * np.asarray(g)
        out.append(x.copy())
    return out


def heavy_ball(x0, grads, *, lr, momentum, dampening=False, nesterov=False):
    """Zhang, Niwa, Kleijn (arXiv:2112.06125) eqs. (1)-(2): m <- beta m + g, x <- x - lr m."""
    x = np.array(x0, dtype=np.float64)
    m = np.zeros_like(x)
    out = []
    for g in grads:
        g = np.asarray(g)
        m = momentum * m + ((1 - momentum) * g if dampening else g)
        d = g + momentum * m if nesterov else m
        x = x - lr * d
        out.append(x.copy())
    return out


def run_loop(step, x0, grad_fn, steps):
    """A plain Python loop: x_t = step(x_{t-1}, grad_fn(x_{t-1}), t); returns x_0..x_T."""
    xs = [np.array(x0, dtype=np.float64)]
    state = None
    for t in range(1, steps + 1):
        x, state = step(xs[-1], grad_fn(xs[-1]), state, t)
        xs.append(np.array(x, dtype=np.float64))
    return xs


def adam_no_bias_correction(x0, grads, *, lr, b1, b2, eps):
    """Reddi et al. (2018) generic Adam: x <- x - lr m / (sqrt(v) + eps), no 1 - b^t."""
    x = np.array(x0, dtype=np.float64)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    out = []
    for g in grads:
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * _div(m, np.sqrt(v) + eps)
        out.append(x.copy())
    return out
