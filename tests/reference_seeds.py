"""NumPy transcriptions of the seed optimizers AdaMomentum (001), AdamAL (002), MAdam and
LaMAdam (004), plus official LaProp, for the tests only.

Written from the algorithm boxes as corrected in docs/optimizers.md#adamomentum, #adamal, #maxva
(and the official code cited there), independently of the JAX files: float64 NumPy, no
optlab imports. Each class holds its own copy of a dict of arrays and updates it in
``step(grads)``; ``run`` drives one over a gradient function. The style is deliberately
different from the JAX code (a torch-like loop over leaves with in-place state, the
"skip MaxVA at t = 1" branch written out, Newton's method instead of bisection for the
ball projection), so that a shared mistake is unlikely.
"""

from __future__ import annotations

import numpy as np
from harness import reference_run as run  # noqa: F401  (the shared driver)


class _Reference:
    def __init__(self, params, **hp):
        self.params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}
        self.hp = hp
        self.state = {k: {} for k in self.params}
        self.t = 0

    def step(self, grads):
        self.t += 1
        for k in self.params:
            g = np.array(grads[k], dtype=np.float64, copy=True)
            self.update(self.params[k], g, self.state[k])

    def update(self, p, g, st):  # in place on p and st
        raise NotImplementedError


def _div0(num, den):
    """num/den with 0 where den == 0 (docs/optimizers.md#numerics, the 0/0 rule)."""
    num, den = np.broadcast_arrays(np.asarray(num, float), np.asarray(den, float))
    out = np.zeros(num.shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


# --- AdaMomentum, Wang et al. (arXiv:2106.11514) Alg. 1 (OCR fix: line 9 is m_hat/sqrt(v_hat)) ----


class AdaMomentum(_Reference):
    """``eps_form="ema"``: Alg. 1 (eps added to v every step). ``eps_form="root"``: the
    paper's section 3.1 reparametrisation, an eps-free EMA of m^2 and eps/(1 - b2) inside
    the root of v_hat (identity 1 of docs/optimizers.md#identities)."""

    def update(self, p, g, st):
        hp = self.hp
        lr, b1, b2, eps = hp["lr"], hp["b1"], hp["b2"], hp["eps"]
        form = hp.get("eps_form", "ema")
        g += hp.get("l2", 0.0) * p  # weight_decouple=False
        p *= 1.0 - lr * hp.get("weight_decay", 0.0)  # weight_decouple=True
        p *= 1.0 - hp.get("mu", 0.0)  # fixed_decay=True
        if not st:
            st["m"] = np.zeros_like(p)
            st["v"] = np.zeros_like(p)
        t = self.t
        st["m"] = b1 * st["m"] + (1 - b1) * g
        if form == "ema":
            st["v"] = b2 * st["v"] + (1 - b2) * st["m"] ** 2 + eps
            v_hat = st["v"] / (1 - b2**t)
        else:
            st["v"] = b2 * st["v"] + (1 - b2) * st["m"] ** 2
            v_hat = st["v"] / (1 - b2**t) + eps / (1 - b2)
        m_hat = st["m"] / (1 - b1**t)
        p -= lr * _div0(m_hat, np.sqrt(v_hat))


# --- AdamAL, anonymous ICLR submission, Alg. 1 (OCR fix: line 7's beta1 is beta2) -----------------


class AdamAL:
    """Not per leaf: the ball projection couples all coordinates, so the state is kept as
    one flat vector (leaves concatenated in key order)."""

    def __init__(self, params, **hp):
        self.keys = list(params)
        self.shapes = {k: np.shape(params[k]) for k in self.keys}
        self.params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}
        self.hp = hp
        n = sum(int(np.prod(s)) for s in self.shapes.values())
        self.m = np.zeros(n)
        self.v = np.zeros(n)
        self.t = 0
        self.ball_hits = 0

    def _flat(self, tree):
        return np.concatenate([np.ravel(np.asarray(tree[k], dtype=np.float64)) for k in self.keys])

    def _unflat(self, x):
        out, i = {}, 0
        for k in self.keys:
            n = int(np.prod(self.shapes[k]))
            out[k] = x[i : i + n].reshape(self.shapes[k])
            i += n
        return out

    def step(self, grads):
        hp = self.hp
        lr, b1, b2, eps = hp["lr"], hp["b1"], hp["b2"], hp["eps"]
        self.t += 1
        t = self.t
        x, g = self._flat(self.params), self._flat(grads)
        self.m = b1 * self.m + (1 - b1) * g
        g_hat = np.where(g**2 > self.v, g**2, self.v)  # max{g_t^2, v_{t-1}}
        self.v = b2 * self.v + (1 - b2) * g_hat
        if hp.get("bias_correction", False):
            m, v = self.m / (1 - b1**t), self.v / (1 - b2**t)
        else:
            m, v = self.m, self.v
        a = np.sqrt(v) + eps
        y = x - lr * _div0(m, a)
        proj = hp.get("projection", "none")
        if proj == "box":
            y = np.minimum(np.maximum(y, hp["lower"]), hp["upper"])
        elif proj == "ball":
            y = self._ball(y, a, hp["radius"])
        self.params = self._unflat(y)

    def _ball(self, y, a, r):
        """argmin_{|x| <= r} (x - y)^T diag(a) (x - y): Newton on phi(lam) = |x(lam)| - r from
        lam = 0 (phi is convex and decreasing, so the iterates increase monotonically)."""
        if np.linalg.norm(y) <= r:
            return y
        self.ball_hits += 1
        lam = 0.0
        for _ in range(200):
            x = a * y / (a + lam)
            nx = np.linalg.norm(x)
            dphi = -np.sum(x**2 / (a + lam)) / nx
            new = lam - (nx - r) / dphi
            if new <= lam * (1 + 1e-16):
                break
            lam = new
        return a * y / (a + lam)


# --- MaxVA, Zhu et al. (arXiv:2006.11918) (eqs. 2-8, Alg. 1 and 2, official zhuchen03/MaxVA) ------


class _MaxVA(_Reference):
    """Shared second-moment bookkeeping, official-code style: at t = 1 plain EMAs with the
    first-step beta (eq. 7), afterwards eq. (6) with delta, clipped; sigma^2 clamped at 0;
    eq. (6)'s ratio taken as 0 when its denominator is 0 (then beta = b2_min)."""

    def __init__(self, params, **hp):
        super().__init__(params, **hp)
        self.beta_log = []  # every beta_t used, all leaves

    def first_beta(self):
        b_init = self.hp.get("b2_init")
        if b_init is not None:
            return b_init
        return self.hp["b2_max"] if self.hp["b2_max"] < 1 else 0.9

    def second_moment(self, g, st):
        hp = self.hp
        if not st:
            for key in ("u", "v", "w", "m", "den_max"):
                st[key] = np.zeros_like(g)
            st["beta"] = np.zeros_like(g)
        if self.t == 1:
            beta = np.full_like(g, self.first_beta())
        else:
            u = st["u"] / st["w"]
            v = st["v"] / st["w"]
            sigma2 = np.maximum(v - u * u, 0.0)
            delta2 = (g - u) ** 2
            num = delta2 + sigma2
            den = st["w"] * (delta2 - sigma2) + delta2 + sigma2 + hp["delta"]
            beta = np.clip(_div0(num, den), hp["b2_min"], hp["b2_max"])
        self.beta_log.append(beta.copy())
        st["u"] = beta * st["u"] + (1 - beta) * g
        st["v"] = beta * st["v"] + (1 - beta) * g * g
        st["w"] = beta * st["w"] + (1 - beta)
        st["beta"] = beta


class MAdam(_MaxVA):
    def update(self, p, g, st):
        hp = self.hp
        lr, alpha, eps = hp["lr"], hp["b1"], hp["eps"]
        g += hp.get("l2", 0.0) * p  # official adamw=False
        self.second_moment(g, st)
        st["m"] = alpha * st["m"] + (1 - alpha) * g
        t = self.t
        if hp.get("eps_mode", "official") == "official":
            denom = np.sqrt(st["v"] / st["w"]) + eps
        else:  # Alg. 1 line 12: lr sqrt(w)/(1 - alpha^t) m / sqrt(v + eps)
            denom = np.sqrt(st["v"] + eps) / np.sqrt(st["w"])
        if hp.get("amsgrad", False):
            st["den_max"] = np.maximum(st["den_max"], denom)
            denom = st["den_max"]
        p *= 1.0 - lr * hp.get("weight_decay", 0.0)  # official adamw=True, before the step
        p -= lr / (1 - alpha**t) * _div0(st["m"], denom)


class LaMAdam(_MaxVA):
    """Official form: the lr-EMA (``update_lr_bc``) as a per-leaf scalar."""

    def update(self, p, g, st):
        hp = self.hp
        lr, alpha, eps = hp["lr"], hp["b1"], hp["eps"]
        g += hp.get("l2", 0.0) * p  # official use_adamw=False
        p *= 1.0 - hp.get("weight_decay", 0.0) * lr  # official use_adamw=True, before the step
        self.second_moment(g, st)
        if hp.get("eps_mode", "official") == "official":
            denom = np.sqrt(st["v"] / st["w"]) + eps
        else:  # Alg. 2 line 11: g / sqrt(v/w + eps)
            denom = np.sqrt(st["v"] / st["w"] + eps)
        if hp.get("amsgrad", False):
            st["den_max"] = np.maximum(st["den_max"], denom)
            denom = st["den_max"]
        st.setdefault("lr_bc", 0.0)
        st["m"] = alpha * st["m"] + (1 - alpha) * lr * _div0(g, denom)
        st["lr_bc"] = alpha * st["lr_bc"] + (1 - alpha) * lr
        p -= (lr / st["lr_bc"] if lr != 0 else 0.0) * st["m"]


class LaProp(_Reference):
    """Official LaProp (Z-T-WANG/LaProp-Optimizer), no centering/amsgrad, no decay."""

    def update(self, p, g, st):
        lr, b1, b2, eps = (self.hp[k] for k in ("lr", "b1", "b2", "eps"))
        if not st:
            st.update(M=np.zeros_like(p), v=np.zeros_like(p), L=0.0, B=0.0)
        st["v"] = b2 * st["v"] + (1 - b2) * g * g
        st["L"] = b1 * st["L"] + (1 - b1) * lr
        st["B"] = b2 * st["B"] + (1 - b2)
        n = g / (np.sqrt(st["v"] / st["B"]) + eps)
        st["M"] = b1 * st["M"] + (1 - b1) * lr * n
        p -= lr / st["L"] * st["M"]


def maxva_beta2_closed_form(w1):
    """App. C: at t = 2 (sigma_1 = 0, Delta != 0) beta~_2 = 1/(1 + w_1)."""
    return 1.0 / (1.0 + w1)


def constant_gradient_w(t, b_init, b_min):
    """Identity 12: under a constant gradient, w_t = 1 - b_init b_min^(t-1)."""
    return 1.0 - b_init * b_min ** (t - 1)


__all__ = [
    "AdaMomentum",
    "AdamAL",
    "LaMAdam",
    "LaProp",
    "MAdam",
    "constant_gradient_w",
    "maxva_beta2_closed_form",
    "run",
]
