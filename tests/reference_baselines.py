"""NumPy transcriptions of the baseline optimizers, for the tests only.

Written from docs/optimizers.md#baselines and the official code it cites, in the style of that
code (a torch-like per-parameter loop with in-place state), independently of the JAX files:
float64 NumPy, no optlab imports. Each class takes a dict of arrays and updates its own
copy in ``step(grads)``; ``run`` drives one over a gradient function.
"""

from __future__ import annotations

import math

import numpy as np
from harness import reference_run as run  # noqa: F401  (the shared driver)


class _Reference:
    def __init__(self, params, **hp):
        self.params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}
        self.hp = hp
        self.state = {k: {} for k in self.params}
        self.setup()

    def setup(self):
        pass

    def step(self, grads):
        for k in self.params:
            self.update(k, self.params[k], np.asarray(grads[k], dtype=np.float64), self.state[k])

    def update(self, name, p, grad, state):  # in place on p and state
        raise NotImplementedError


# --- AMSGrad: torch.optim.Adam(amsgrad=True) / optax.amsgrad / Reddi et al. ------------------


class AMSGrad(_Reference):
    def update(self, name, p, grad, st):
        lr, b1, b2, eps = (self.hp[k] for k in ("lr", "b1", "b2", "eps"))
        variant = self.hp.get("variant", "torch")
        grad = grad + self.hp.get("l2", 0.0) * p
        p *= 1 - lr * self.hp.get("weight_decay", 0.0)
        if not st:
            st.update(step=0, m=np.zeros_like(p), v=np.zeros_like(p), vmax=np.zeros_like(p))
        st["step"] += 1
        t = st["step"]
        st["m"] = b1 * st["m"] + (1 - b1) * grad
        st["v"] = b2 * st["v"] + (1 - b2) * grad * grad
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        if variant == "torch":
            st["vmax"] = np.maximum(st["vmax"], st["v"])
            denom = np.sqrt(st["vmax"]) / math.sqrt(bc2) + eps
            p -= (lr / bc1) * st["m"] / denom
        elif variant == "optax":
            st["vmax"] = np.maximum(st["vmax"], st["v"] / bc2)
            p -= lr * (st["m"] / bc1) / (np.sqrt(st["vmax"]) + eps)
        else:  # paper: no bias correction at all
            st["vmax"] = np.maximum(st["vmax"], st["v"])
            p -= lr * st["m"] / (np.sqrt(st["vmax"]) + eps)


# --- AdaBelief: adabelief-pytorch 0.2.x, rectify=False ---------------------------------------


class AdaBelief(_Reference):
    def update(self, name, p, grad, st):
        lr, b1, b2, eps = (self.hp[k] for k in ("lr", "b1", "b2", "eps"))
        # the three official modes are exclusive: at most one of l2, weight_decay, mu is set
        grad = grad + self.hp.get("l2", 0.0) * p  # weight_decouple=False
        p *= 1.0 - lr * self.hp.get("weight_decay", 0.0)  # weight_decouple=True
        p *= 1.0 - self.hp.get("mu", 0.0)  # weight_decouple=True, fixed_decay=True
        if not st:
            st.update(step=0, m=np.zeros_like(p), s=np.zeros_like(p), smax=np.zeros_like(p))
        st["step"] += 1
        bc1 = 1 - b1 ** st["step"]
        bc2 = 1 - b2 ** st["step"]
        st["m"] = st["m"] * b1 + (1 - b1) * grad
        residual = grad - st["m"]
        st["s"] = st["s"] * b2 + (1 - b2) * residual * residual
        st["s"] += eps  # exp_avg_var.add_(eps), in place
        if self.hp.get("amsgrad", False):
            st["smax"] = np.maximum(st["smax"], st["s"])
            denom = np.sqrt(st["smax"]) / math.sqrt(bc2) + eps
        else:
            denom = np.sqrt(st["s"]) / math.sqrt(bc2) + eps
        p -= (lr / bc1) * st["m"] / denom


# --- RMSprop: torch.optim.RMSprop, plus optax's eps_in_sqrt / bias_correction flags ----------


class RMSprop(_Reference):
    def update(self, name, p, grad, st):
        lr, alpha, eps = self.hp["lr"], self.hp["alpha"], self.hp["eps"]
        momentum = self.hp.get("momentum", 0.0)
        grad = grad + self.hp.get("l2", 0.0) * p
        if not st:
            st.update(step=0, sq=np.zeros_like(p), gavg=np.zeros_like(p), buf=np.zeros_like(p))
        st["step"] += 1
        st["sq"] = alpha * st["sq"] + (1 - alpha) * grad * grad
        c = 1 - alpha ** st["step"] if self.hp.get("bias_correction", False) else 1.0
        if self.hp.get("centered", False):
            st["gavg"] = alpha * st["gavg"] + (1 - alpha) * grad
            var = st["sq"] / c - (st["gavg"] / c) ** 2
        else:
            var = st["sq"] / c
        avg = np.sqrt(var + eps) if self.hp.get("eps_in_sqrt", False) else np.sqrt(var) + eps
        if momentum > 0:
            st["buf"] = momentum * st["buf"] + grad / avg
            p -= lr * st["buf"]
        else:
            p -= lr * grad / avg


# --- AdaGrad: torch.optim.Adagrad (eps_in_sqrt: optax placement) ----------------------------


class Adagrad(_Reference):
    def update(self, name, p, grad, st):
        lr, eps = self.hp["lr"], self.hp["eps"]
        if not st:
            st.update(step=0, sum=np.full_like(p, self.hp.get("initial_accumulator_value", 0.0)))
        st["step"] += 1
        grad = grad + self.hp.get("l2", 0.0) * p
        clr = lr / (1 + (st["step"] - 1) * self.hp.get("lr_decay", 0.0))
        st["sum"] += grad * grad
        if self.hp.get("eps_in_sqrt", False):
            std = np.sqrt(st["sum"] + eps)
        else:
            std = np.sqrt(st["sum"]) + eps
        p -= clr * grad / std


# --- Yogi: torch-optimizer / optax (both moments start at the initial accumulator) ----------


class Yogi(_Reference):
    def update(self, name, p, grad, st):
        lr, b1, b2, eps = (self.hp[k] for k in ("lr", "b1", "b2", "eps"))
        init = self.hp.get("initial_accumulator_value", 1e-6)
        if not st:
            st.update(step=0, m=np.full_like(p, init), v=np.full_like(p, init))
        st["step"] += 1
        grad = grad + self.hp.get("l2", 0.0) * p
        bc1 = 1 - b1 ** st["step"]
        bc2 = 1 - b2 ** st["step"]
        st["m"] = st["m"] * b1 + (1 - b1) * grad
        g2 = grad * grad
        st["v"] = st["v"] - (1 - b2) * np.sign(st["v"] - g2) * g2
        denom = np.sqrt(st["v"]) / math.sqrt(bc2) + eps
        p -= (lr / bc1) * st["m"] / denom


# --- AdaBound: Luolc/AdaBound (AdaBound with l2; AdaBoundW's un-scaled decay as mu) ---------


class AdaBound(_Reference):
    def setup(self):
        self.base_lr = self.hp["lr"]  # the official base_lrs, taken at construction

    def update(self, name, p, grad, st):
        lr, b1, b2, eps = (self.hp[k] for k in ("lr", "b1", "b2", "eps"))
        final_lr, gamma = self.hp["final_lr"], self.hp["gamma"]
        if not st:
            st.update(step=0, m=np.zeros_like(p), v=np.zeros_like(p), vmax=np.zeros_like(p))
        st["step"] += 1
        t = st["step"]
        grad = grad + self.hp.get("l2", 0.0) * p
        st["m"] = st["m"] * b1 + (1 - b1) * grad
        st["v"] = st["v"] * b2 + (1 - b2) * grad * grad
        if self.hp.get("amsbound", False):
            st["vmax"] = np.maximum(st["vmax"], st["v"])
            denom = np.sqrt(st["vmax"]) + eps
        else:
            denom = np.sqrt(st["v"]) + eps
        step_size = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        final_lr = final_lr * lr / self.base_lr
        lower = final_lr * (1 - 1 / (gamma * t + 1))
        upper = final_lr * (1 + 1 / (gamma * t))
        raw = np.full_like(denom, step_size) / denom
        self.clipped = getattr(self, "clipped", np.zeros(2, int)) + [
            np.sum(raw < lower),
            np.sum(raw > upper),
        ]  # how often each bound was active (lets a test check that both were exercised)
        step = np.clip(raw, lower, upper) * st["m"]
        decayed = p * self.hp.get("mu", 0.0)
        p -= step
        p -= decayed


# --- RAdam: LiyuanLucasLiu/RAdam radam/radam.py ---------------------------------------------


class RAdam(_Reference):
    def update(self, name, p, grad, st):
        lr, b1, b2, eps = (self.hp[k] for k in ("lr", "b1", "b2", "eps"))
        wd = self.hp.get("weight_decay", 0.0)
        if not st:
            st.update(step=0, m=np.zeros_like(p), v=np.zeros_like(p))
        st["v"] = st["v"] * b2 + (1 - b2) * grad * grad
        st["m"] = st["m"] * b1 + (1 - b1) * grad
        st["step"] += 1
        t = st["step"]
        beta2_t = b2**t
        n_sma_max = 2 / (1 - b2) - 1
        n_sma = n_sma_max - 2 * t * beta2_t / (1 - beta2_t)
        if n_sma >= 5:
            step_size = math.sqrt(
                (1 - beta2_t)
                * (n_sma - 4)
                / (n_sma_max - 4)
                * (n_sma - 2)
                / n_sma
                * n_sma_max
                / (n_sma_max - 2)
            ) / (1 - b1**t)
        elif self.hp.get("degenerated_to_sgd", False):
            step_size = 1.0 / (1 - b1**t)
        else:
            step_size = -1
        if n_sma >= 5:
            p -= wd * lr * p
            p -= step_size * lr * st["m"] / (np.sqrt(st["v"]) + eps)
        elif step_size > 0:
            p -= wd * lr * p
            p -= step_size * lr * st["m"]


# --- LaProp: Z-T-WANG/LaProp-Optimizer laprop.py ---------------------------------------------


class LaProp(_Reference):
    def update(self, name, p, grad, st):
        lr, b1, b2, eps = (self.hp[k] for k in ("lr", "b1", "b2", "eps"))
        centered = self.hp.get("centered", False)
        amsgrad = self.hp.get("amsgrad", False)
        if not st:
            st.update(
                step=0,
                exp_avg=np.zeros_like(p),
                lr1=0.0,
                lr2=0.0,
                exp_avg_sq=np.zeros_like(p),
                mean_b2=np.zeros_like(p),
                max_sq=np.zeros_like(p),
            )
        st["step"] += 1
        st["exp_avg_sq"] = st["exp_avg_sq"] * b2 + (1 - b2) * grad * grad
        st["lr1"] = st["lr1"] * b1 + (1 - b1) * lr
        st["lr2"] = st["lr2"] * b2 + (1 - b2)
        bias_correction1 = st["lr1"] / lr if lr != 0.0 else 1.0
        step_size = 1 / bias_correction1
        denom = st["exp_avg_sq"]
        if centered:
            st["mean_b2"] = st["mean_b2"] * b2 + (1 - b2) * grad
            if st["step"] > 10:
                denom = denom - st["mean_b2"] ** 2
        if amsgrad and not (centered and st["step"] <= 10):
            st["max_sq"] = np.maximum(st["max_sq"], denom)
            denom = st["max_sq"]
        denom = np.sqrt(denom / st["lr2"]) + eps
        st["exp_avg"] = st["exp_avg"] * b1 + (1 - b1) * lr * (grad / denom)
        p -= step_size * st["exp_avg"]
        p -= self.hp.get("mu", 0.0) * p


# --- NAdam: optax.nadam (Keras form) and torch.optim.NAdam (mu schedule) --------------------


class NAdam(_Reference):
    def update(self, name, p, grad, st):
        lr, b1, b2, eps = (self.hp[k] for k in ("lr", "b1", "b2", "eps"))
        grad = grad + self.hp.get("l2", 0.0) * p
        p *= 1 - lr * self.hp.get("weight_decay", 0.0)
        if not st:
            st.update(step=0, m=np.zeros_like(p), v=np.zeros_like(p), mu_product=1.0)
        st["step"] += 1
        t = st["step"]
        st["m"] = st["m"] + (grad - st["m"]) * (1 - b1)  # lerp, as torch
        st["v"] = st["v"] * b2 + (1 - b2) * grad * grad
        denom = np.sqrt(st["v"] / (1 - b2**t)) + eps
        if self.hp.get("torch_schedule", False):
            psi = self.hp.get("momentum_decay", 4e-3)
            mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
            mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
            st["mu_product"] *= mu
            mu_product_next = st["mu_product"] * mu_next
            p -= lr * (1.0 - mu) / (1.0 - st["mu_product"]) * grad / denom
            p -= lr * mu_next / (1.0 - mu_product_next) * st["m"] / denom
        else:
            m_bar = b1 * st["m"] / (1 - b1 ** (t + 1)) + (1 - b1) * grad / (1 - b1**t)
            p -= lr * m_bar / denom


# --- M-SVAG: lballes/msvag MSVAGOptimizer ----------------------------------------------------


class MSVAG(_Reference):
    def update(self, name, p, grad, st):
        lr, beta = self.hp["lr"], self.hp["beta"]
        if not st:
            st.update(step=0, m=np.zeros_like(p), v=np.zeros_like(p))
        st["step"] += 1
        bp = beta ** st["step"]
        st["m"] = beta * st["m"] + (1 - beta) * grad
        st["v"] = beta * st["v"] + (1 - beta) * grad**2
        m = st["m"] / (1 - bp)
        v = st["v"] / (1 - bp)
        rho = min((1 - beta) * (1 + bp) / ((1 + beta) * (1 - bp)), 0.9999)
        m2 = m**2
        s = (v - m2) / (1 - rho)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.clip(m2 / (m2 + rho * s), 0.0, 1.0)
        factor = np.where(np.isnan(factor), 0.0, factor)
        p -= lr * factor * m


# --- Fromage: jxbz/fromage (a layer = a leaf, or consecutive chunks of ``chunk`` entries) ----


class Fromage(_Reference):
    def setup(self):
        bound = self.hp.get("p_bound")
        if bound is not None:
            for k, p in self.params.items():
                self.state[k]["max"] = [bound * np.linalg.norm(r) for r in self._rows(p)]

    def _rows(self, p):
        flat = p.reshape(-1)  # a view: writing into a row writes into p
        n = self.hp.get("chunk") or flat.size
        return [flat[i : i + n] for i in range(0, flat.size, n)]

    def update(self, name, p, grad, st):
        lr = self.hp["lr"]
        n = self.hp.get("chunk") or p.size
        grows = [grad.reshape(-1)[i : i + n] for i in range(0, p.size, n)]
        for j, (row, g) in enumerate(zip(self._rows(p), grows, strict=True)):
            g_norm = np.linalg.norm(g)
            p_norm = np.linalg.norm(row)
            if p_norm > 0.0 and g_norm > 0.0:
                row -= lr * g * (p_norm / g_norm)
            else:
                row -= lr * g
            row /= math.sqrt(1 + lr**2)
            if "max" in st:
                p_norm = np.linalg.norm(row)
                if p_norm > st["max"][j]:
                    row *= st["max"][j] / p_norm
                    self.bounded = getattr(self, "bounded", 0) + 1


# --- signSGD ---------------------------------------------------------------------------------


class SignSGD(_Reference):
    def update(self, name, p, grad, st):
        p -= self.hp["lr"] * np.sign(grad)
