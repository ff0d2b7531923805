"""The optimizer registry.

Every public module in this package (a name not starting with ``_``) defines ``ENTRY``,
an :class:`OptimizerEntry`; dropping a file in registers it. ``_template.py`` shows the
shape of one. Ids are the file names. ``entries()`` holds the built-ins only; plug-in
optimizers (``--plugin FILE.py``, entry-point group ``optlab.optimizers``) join them in
:mod:`optlab.registry`, scoped to the call that loads them.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from optlab.optimizers._entry import OptimizerEntry

# Names that are not optimizers but answer with a pointer (two papers share "Aida").
AMBIGUOUS = {
    "aida": (
        "'aida' is ambiguous: use 'aida_pq' (Aida(p, q), Zhang, Niwa, Kleijn, arXiv:2112.06125) "
        "or 'aida_k' (Aida with K projections, Zhang, Niwa, Kleijn, arXiv:2203.13273)"
    ),
}


@cache
def entries() -> dict[str, OptimizerEntry]:
    found: dict[str, OptimizerEntry] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        entry = getattr(module, "ENTRY", None)
        if isinstance(entry, OptimizerEntry):
            found[entry.id] = entry
    return dict(sorted(found.items()))


__all__ = ["AMBIGUOUS", "OptimizerEntry", "entries"]
