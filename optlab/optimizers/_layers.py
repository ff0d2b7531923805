"""What a "layer" is for the layerwise optimizers (docs/optimizers.md#layers).

A static ``layers`` option, parsed once by :func:`parse_layers`:

- ``"leaf"`` (default): one layer per pytree leaf, as in the official code of Zhang, Niwa, Kleijn
  (arXiv:2203.13273) (each parameter tensor is a layer);
- ``"coord"``: every coordinate is its own layer (the identity tests of
  docs/optimizers.md#identities);
- ``"chunk:N"``: each leaf, flattened, is cut into consecutive layers of N coordinates
  (N must divide the leaf's size), so a vector toy problem can be split.

Per-layer statistics go through :func:`groups` (leaf -> (L, n) array, one row per layer)
and back through :func:`ungroup`.
"""

from __future__ import annotations

from optlab._jax import jnp


def parse_layers(spec: str) -> tuple[str, int]:
    """("leaf", 0), ("coord", 1) or ("chunk", N); a ValueError otherwise."""
    if spec == "leaf":
        return ("leaf", 0)
    if spec == "coord":
        return ("coord", 1)
    if isinstance(spec, str) and spec.startswith("chunk:"):
        try:
            n = int(spec.split(":", 1)[1])
        except ValueError:
            n = 0
        if n >= 1:
            return ("chunk", n)
    raise ValueError(f"layers must be 'leaf', 'coord' or 'chunk:N' with N >= 1, got {spec!r}")


def groups(x, layers: tuple[str, int]):
    """The leaf ``x`` as an (L, n) array whose rows are its layers."""
    kind, n = layers
    flat = jnp.reshape(x, (-1,))
    if kind == "leaf":
        return flat[None, :]
    if kind == "coord":
        return flat[:, None]
    if flat.shape[0] % n:
        raise ValueError(f"layers=chunk:{n} does not divide a leaf of size {flat.shape[0]}")
    return jnp.reshape(flat, (-1, n))


def ungroup(g, like):
    """Inverse of :func:`groups`; ``g`` may be (L, 1) per-layer values (broadcast)."""
    size = 1
    for s in like.shape:
        size *= s
    rows = g.shape[0]
    full = jnp.broadcast_to(g, (rows, size // rows))
    return jnp.reshape(full, like.shape)


def layer_mean(x, layers):
    """Per-layer mean of ``x``, broadcast back to ``x``'s shape."""
    g = groups(x, layers)
    return ungroup(jnp.mean(g, axis=1, keepdims=True), x)


def layer_sum(x, layers):
    """Per-layer sum of ``x``, broadcast back to ``x``'s shape."""
    g = groups(x, layers)
    return ungroup(jnp.sum(g, axis=1, keepdims=True), x)
