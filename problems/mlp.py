"""A teacher-student multilayer perceptron: a multi-layer problem for the layerwise methods.

A student MLP of the teacher's shape fits the outputs of a fixed random teacher on synthetic
inputs. Everything comes from ``data_seed`` (teacher and inputs, NumPy) and from the run's
seed (the student's start and the minibatches, through the runner's keys); nothing is
downloaded.

Model: ``h_0 = u``, ``h_{l+1} = tanh(h_l W_l + b_l)`` for the ``depth`` hidden layers, a linear
output layer. Loss: 1/2 mean over the minibatch of ||student(u) - teacher(u)||^2; the
objective is the same mean over all ``samples`` inputs. The teacher fits exactly, so f* = 0
(realisable) and x* = the teacher's parameters.

Parameters are a list with one ``{"w": (fan_in, fan_out), "b": (fan_out,)}`` per layer (a
pytree: each weight matrix and bias vector is a leaf, i.e. a "layer" for the layerwise
methods); ``layout=flat`` gives the same numbers as one vector.
"""

from __future__ import annotations

import numpy as np

from optlab._jax import float64, jax, jnp
from optlab.metrics import flatten
from problems._layout import FlatView, check_layout
from problems.spec import Problem, ProblemEntry

REFERENCE = (
    "teacher-student regression (lab problem); the layerwise family of Zhang, Niwa, Kleijn, "
    "arXiv:2203.13273, is about per-layer step sizes, which needs more than one layer"
)
TEACHER_BIAS_STD = 0.1


def _sizes(inputs: int, width: int, depth: int, outputs: int) -> list[int]:
    for name, v in (("inputs", inputs), ("width", width), ("outputs", outputs)):
        if int(v) != v or v < 1:
            raise ValueError(f"mlp: {name} must be an integer >= 1, got {v!r}")
    if int(depth) != depth or depth < 1:
        raise ValueError(f"mlp: depth (hidden layers) must be an integer >= 1, got {depth!r}")
    return [int(inputs)] + [int(width)] * int(depth) + [int(outputs)]


def _numpy_params(rng, sizes, bias_std: float) -> list[dict]:
    """Weights N(0, 1/fan_in) (tanh-friendly scale), biases N(0, bias_std^2)."""
    return [
        {"b": bias_std * rng.standard_normal(n), "w": rng.standard_normal((m, n)) / np.sqrt(m)}
        for m, n in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def forward(params, u, xp=jnp):
    """The network's outputs for inputs ``u`` (batch, inputs); ``xp`` is jnp or NumPy."""
    h = u
    for i, layer in enumerate(params):
        h = h @ layer["w"] + layer["b"]
        if i < len(params) - 1:
            h = xp.tanh(h)
    return h


def make(
    inputs: int = 4,
    width: int = 8,
    depth: int = 2,
    outputs: int = 1,
    batch: int = 16,
    samples: int = 256,
    data_seed: int = 0,
    layout: str = "tree",
) -> Problem:
    sizes = _sizes(inputs, width, depth, outputs)
    check_layout("mlp", layout)
    if int(samples) != samples or samples < 1 or int(batch) != batch or batch < 1:
        raise ValueError("mlp: samples and batch must be integers >= 1")
    samples, batch = int(samples), int(batch)
    rng = np.random.default_rng(int(data_seed))
    teacher = _numpy_params(rng, sizes, TEACHER_BIAS_STD)
    u_np = rng.standard_normal((samples, sizes[0]))
    with float64():  # XLA's tanh, as in the runs, so that the teacher's loss is 0 exactly
        y_np = np.asarray(forward(teacher, jnp.asarray(u_np)), dtype=np.float64)
    view = FlatView(teacher)

    def tree_loss(params, batch_idx=None):
        dtype = params[0]["w"].dtype  # NumPy constants become arrays of the run's dtype here
        u, y = jnp.asarray(u_np).astype(dtype), jnp.asarray(y_np).astype(dtype)
        if batch_idx is not None:
            u, y = u[batch_idx], y[batch_idx]
        r = forward(params, u) - y
        return 0.5 * jnp.mean(jnp.sum(r * r, axis=-1))

    def sample(key, t):
        del t
        return jax.random.randint(key, (batch,), 0, samples)

    def init(key):  # the student's start: the teacher's weight law, zero biases
        keys = jax.random.split(key, len(sizes) - 1)
        params = [
            {"b": jnp.zeros(n), "w": jax.random.normal(k, (m, n)) / np.sqrt(m)}
            for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
        ]
        return params if layout == "tree" else flatten(params)

    fallback = _numpy_params(np.random.default_rng(int(data_seed) + 1), sizes, 0.0)
    if layout == "tree":  # NumPy float64 leaves: the runner casts them to the run's dtype
        loss, x0, x_star = tree_loss, fallback, teacher
    else:
        loss = lambda x, b=None: tree_loss(view.unravel(x), b)  # noqa: E731
        x0, x_star = view.ravel(fallback), view.ravel(teacher)
    n_params = sum(view.sizes)
    return Problem(
        name="mlp",
        loss=loss,
        x0=x0,
        x_star=x_star,
        f_star=0.0,
        f_star_kind="global",
        sample=sample,
        init=init,
        tags=frozenset({"stochastic", "nonconvex", "mlp", "multi-layer"}),
        reference=REFERENCE,
        metrics=("loss", "grad_norm"),
        notes=(
            f"{len(sizes) - 1} layers {sizes}, {n_params} parameters, {samples} inputs "
            f"u ~ N(0, I) from data_seed={data_seed}; minibatches of {batch} indices drawn "
            "with replacement from the run's key (the gradient noise). f* = 0 is attained by "
            "the teacher, but minimisers are not unique: permuting the hidden units of a "
            "layer, or flipping the signs of a unit's in- and out-weights and bias (tanh is "
            "odd), gives the same function, so there are at least (width! 2^width)^depth "
            "isolated copies, and more (a manifold) when samples < parameters. x* is the "
            "teacher only: dist is an upper bound on the distance to the set of minimisers, "
            "and a run can reach f = 0 with dist > 0. The student starts from the teacher's "
            "weight law with zero biases (init, per seed); x0 is a fixed fallback draw."
        ),
        options={
            "inputs": sizes[0],
            "width": int(width),
            "depth": int(depth),
            "outputs": sizes[-1],
            "batch": batch,
            "samples": samples,
            "data_seed": int(data_seed),
            "layout": layout,
            "parameters": n_params,
        },
    )


ENTRIES = [
    ProblemEntry(
        id="mlp",
        make=make,
        summary="tanh MLP student fitting a random teacher of its shape (f* = 0, minibatches)",
        defaults={
            "inputs": 4,
            "width": 8,
            "depth": 2,
            "outputs": 1,
            "batch": 16,
            "samples": 256,
            "data_seed": 0,
            "layout": "tree",
        },
        tags=frozenset({"stochastic", "nonconvex", "mlp", "multi-layer"}),
    )
]
