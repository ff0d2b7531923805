"""The contract every registered optimizer keeps, through the same functions as
``optlab check`` (optlab.checks): one implementation. New optimizer files are picked up
automatically. A representative subset runs by default (one per family: moments, layerwise,
sign, running max, constant in the state, ratio of norms, plain gradient); the whole
registry under ``-m slow``."""

from __future__ import annotations

import pytest

from optlab import checks
from optlab.optimizers import entries

IDS = sorted(entries())
QUICK = {"adam", "aida_pq", "aida_k", "ladam", "signsgd", "amsgrad", "adabound", "fromage", "sgd"}


def _param(oid):
    return pytest.param(oid, marks=() if oid in QUICK else pytest.mark.slow)


@pytest.mark.parametrize("oid", [_param(i) for i in IDS])
def test_optimizer_keeps_the_contract(oid):
    rows = checks.check_entry(entries()[oid])
    assert [r.key for r in rows] == list(checks.CHECKS)
    failed = [r for r in rows if not r.passed]
    assert not failed, failed


@pytest.mark.parametrize("oid", IDS)
def test_has_docs_and_listing_fields(oid):
    e = entries()[oid]
    opt = e.make()
    mod = __import__(f"optlab.optimizers.{oid}", fromlist=["x"])
    assert mod.__doc__ and "epart" in mod.__doc__  # a "Departures" note
    assert opt.name == oid and e.paper and e.eps and e.decay and e.summary
    s = opt.init(checks.tree_as(checks.TREE_X0, float), opt.hyper)
    assert s._fields[0] == "count"
