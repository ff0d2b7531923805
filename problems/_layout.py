"""Parameters as a pytree of named arrays, or the same numbers as one flat vector.

The multi-leaf problems (``mlp``, ``logistic``) are written over a pytree; ``layout=flat``
gives the same loss over one vector, for tools that take an array (the stability analyzer).
"""

from __future__ import annotations

import numpy as np

from optlab._jax import jnp

LAYOUTS = ("tree", "flat")


def check_layout(name: str, layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"{name}: layout must be tree or flat, got {layout!r}")


class FlatView:
    """Slices of one vector <-> the leaves of a fixed pytree (dicts with sorted keys, or lists
    of them), in ``jax.tree_util`` order; dtype-preserving (a float32 run stays float32)."""

    def __init__(self, example):
        self.paths, self.shapes = [], []
        self._walk(example, ())
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.example = example

    def _walk(self, node, path):
        if isinstance(node, dict):
            for k in sorted(node):
                self._walk(node[k], path + (k,))
        elif isinstance(node, list | tuple):
            for i, v in enumerate(node):
                self._walk(v, path + (i,))
        else:
            self.paths.append(path)
            self.shapes.append(tuple(np.shape(node)))

    def ravel(self, tree) -> np.ndarray:
        return np.concatenate([np.ravel(self._get(tree, p)) for p in self.paths])

    def unravel(self, flat):
        out, start = _skeleton(self.example), 0
        for path, shape, size in zip(self.paths, self.shapes, self.sizes, strict=True):
            _set(out, path, jnp.reshape(flat[start : start + size], shape))
            start += size
        return out

    @staticmethod
    def _get(tree, path):
        for k in path:
            tree = tree[k]
        return tree


def _skeleton(node):
    if isinstance(node, dict):
        return {k: _skeleton(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_skeleton(v) for v in node]
    return None


def _set(tree, path, value):
    for k in path[:-1]:
        tree = tree[k]
    tree[path[-1]] = value
