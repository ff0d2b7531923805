"""NumPy transcriptions of the algorithm boxes (float64, no optlab imports).

Zhang, Niwa, Kleijn, arXiv:2203.13273 v2: Alg. 1 (AdamL, AdaBeliefL), Alg. 2 (LAdam,
LAdaBelief), Alg. 3 (Aida-K), Alg. 4 (AidaGrad), Alg. 5 (LAida), as corrected in
docs/optimizers.md#layerwise-family. Written line by line from the boxes, with explicit loops over
layers, so that it shares no code with the JAX implementation.

Parameters are a dict name -> np.ndarray. A layer is a set of flat indices of one leaf:
"leaf" (the whole leaf), "coord" (every coordinate) or "chunk:N" (consecutive blocks).
Decay: ``l2`` is added to the gradient before anything (coupled); ``weight_decay`` shrinks
x by (1 - lr*weight_decay) before the step is subtracted (decoupled, AdamW).
"""

from __future__ import annotations

import numpy as np

NAMES = ("adaml", "adabeliefl", "ladam", "ladabelief", "aida_k", "aidagrad", "laida")


def layer_indices(size, layers):
    """A list of flat index arrays, one per layer of a leaf with ``size`` coordinates."""
    if layers == "leaf":
        return [np.arange(size)]
    if layers == "coord":
        return [np.array([i]) for i in range(size)]
    n = int(layers.split(":")[1])
    assert size % n == 0
    return [np.arange(j, j + n) for j in range(0, size, n)]


def projections(m0, g0, K, xi, ordering="paper"):
    """The K mutual projections of eqs. (12)-(13); returns the pair (m^(K), g^(K)).

    "paper": m^(k) = <m,g>/(|g|^2+xi) g, g^(k) = <m,g>/(|m|^2+xi) m, both from the (k-1) pair.
    "official": the Aida.py loop (proj_g *= <g,m>/(|g|^2+xi); proj_m *= <g,m>/(|m|^2+xi)),
    returned as (proj_m, proj_g).
    """
    m = np.array(m0, dtype=np.float64)
    g = np.array(g0, dtype=np.float64)
    for _ in range(K):
        if ordering == "paper":
            inner = float(np.dot(m, g))
            m_new = inner / (float(np.dot(g, g)) + xi) * g
            g_new = inner / (float(np.dot(m, m)) + xi) * m
            m, g = m_new, g_new
        else:
            scalar_g = np.sum(g * m) / (np.sum(g**2) + xi)
            scalar_m = np.sum(g * m) / (np.sum(m**2) + xi)
            g = g * scalar_g
            m = m * scalar_m
    return m, g


def init(name, params, layers="leaf"):
    state = {"t": 0, "m": {}, "v": {}}
    for key, x in params.items():
        state["m"][key] = np.zeros(x.size)
        if name in ("ladam", "ladabelief", "laida"):
            state["v"][key] = np.zeros(len(layer_indices(x.size, layers)))
        else:
            state["v"][key] = np.zeros(x.size)
    return state


def step(name, params, grads, state, h, layers="leaf", K=2, ordering="paper"):
    """One iteration of the algorithm box of ``name``; returns (new params, new state).

    ``h``: dict with learning_rate, b1, b2, eps, and xi, l2, weight_decay (default 0).
    """
    lr, b1, b2, eps = h["learning_rate"], h["b1"], h["b2"], h["eps"]
    xi = h.get("xi", 0.0)
    l2 = h.get("l2", 0.0)
    wd = h.get("weight_decay", 0.0)
    t = state["t"] + 1
    new_params, new_m, new_v = {}, {}, {}
    for key, x_arr in params.items():
        shape = x_arr.shape
        x = x_arr.reshape(-1).astype(np.float64)
        g = grads[key].reshape(-1).astype(np.float64) + l2 * x  # coupled L2 first
        m = b1 * state["m"][key] + (1 - b1) * g  # line 5 of every box
        v = state["v"][key].copy()
        idx_list = layer_indices(x.size, layers)
        x_new = (1 - lr * wd) * x
        m_tilde = m / (1 - b1**t)

        if name in ("adaml", "adabeliefl"):  # Alg. 1
            stat = g**2 if name == "adaml" else (m - g) ** 2
            v = b2 * v + (1 - b2) * stat + eps  # line 6
            v_tilde = v / (1 - b2**t)  # line 7
            for idx in idx_list:  # lines 8-11
                gamma = np.mean(1.0 / np.sqrt(v_tilde[idx]))
                x_new[idx] = x_new[idx] - lr * gamma * m_tilde[idx]

        elif name in ("ladam", "ladabelief", "laida"):  # Alg. 2 and Alg. 5
            for li, idx in enumerate(idx_list):
                if name == "ladam":
                    stat = np.mean(g[idx] ** 2)
                elif name == "ladabelief":
                    stat = np.mean((m[idx] - g[idx]) ** 2)
                else:
                    mk, gk = projections(m[idx], g[idx], K, xi, ordering)
                    stat = np.mean((mk - gk) ** 2)
                v[li] = b2 * v[li] + (1 - b2) * stat + eps
            for li, idx in enumerate(idx_list):
                v_tilde_l = v[li] / (1 - b2**t)
                x_new[idx] = x_new[idx] - lr / np.sqrt(v_tilde_l) * m_tilde[idx]

        elif name == "aida_k":  # Alg. 3
            for idx in idx_list:
                mk, gk = projections(m[idx], g[idx], K, xi, ordering)
                v[idx] = b2 * v[idx] + (1 - b2) * (mk - gk) ** 2 + eps
            v_tilde = v / (1 - b2**t)
            x_new = x_new - lr * m_tilde / np.sqrt(v_tilde)

        elif name == "aidagrad":  # Alg. 4
            for idx in idx_list:
                ml, gl = m[idx], g[idx]
                gp = np.dot(ml, gl) / (np.dot(ml, ml) + xi) * ml  # line 7
                v[idx] = b2 * v[idx] + (1 - b2) * gp**2 + eps  # line 8
            v_tilde = v / (1 - b2**t)
            x_new = x_new - lr * m_tilde / np.sqrt(v_tilde)  # line 11 (corrected)
        else:
            raise ValueError(name)

        new_params[key] = x_new.reshape(shape)
        new_m[key] = m
        new_v[key] = v
    return new_params, {"t": t, "m": new_m, "v": new_v}


def run(name, params, grad_fn, steps, h, layers="leaf", K=2, ordering="paper"):
    """Trajectory [x_0, ..., x_T] and the final state, with g_t = grad_fn(x_{t-1}, t)."""
    state = init(name, params, layers)
    xs = [{k: np.array(v, dtype=np.float64) for k, v in params.items()}]
    for t in range(1, steps + 1):
        g = grad_fn(xs[-1], t)
        x, state = step(name, xs[-1], g, state, h, layers, K, ordering)
        xs.append(x)
    return xs, state
