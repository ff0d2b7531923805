"""``optlab reproduce``: the claim records, every quick protocol with its verdict, and a
deliberately wrong setting per claim that must not come out ``reproduced``."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optlab import reproduce as rp
from optlab.cli import app
from optlab.config import RunConfig, StabilityConfig
from optlab.errors import UsageError

# The verdicts of the quick protocols as measured (deterministic: fixed seeds, float64).
QUICK_VERDICTS = {
    "reddi-fig1": "reproduced",
    "aida-fig1": "reproduced",
    "aida-fig2": "reproduced",
    "aida-fig4": "partly",
    "maxva-chen": "reproduced",
    "maxva-nqm": "reproduced",
    "adamal-reddi": "partly",
    "adamomentum-toys": "partly",
    "layerwise-mlp": "partly",
}


def test_every_claim_is_a_complete_record():
    assert set(rp.CLAIMS) == set(QUICK_VERDICTS)
    for claim in rp.CLAIMS.values():
        assert claim.paper.authors and (claim.paper.arxiv or claim.paper.venue)
        assert claim.statement and claim.criterion and claim.quantities
        for protocol in (claim.full, claim.quick):
            assert protocol.configs and protocol.seconds > 0
            for _, config in protocol.configs:
                assert isinstance(config, RunConfig | StabilityConfig)
        assert claim.quick.seconds <= 30 and claim.quick.seconds <= claim.full.seconds


def test_select_refuses_unknown_ids():
    assert [c.id for c in rp.select(["all"])] == list(rp.CLAIMS)
    with pytest.raises(UsageError, match="unknown claim"):
        rp.select(["reddi-fig1", "nope"])
    with pytest.raises(UsageError):
        rp.select([])


def _replace(claim, name, **changes):
    protocol = claim.quick
    config = dict(protocol.configs)[name]
    return rp.with_configs(protocol, **{name: dataclasses.replace(config, **changes)})


def _wrong(claim_id):
    """A deliberately wrong setting per claim: the protocol must then fail."""
    claim = rp.CLAIMS[claim_id]
    if claim_id in ("reddi-fig1", "adamal-reddi"):  # a constant tiny step: nobody reaches +-1
        return _replace(claim, "online", hyper=(("learning_rate", (1e-4,)),), schedule="constant")
    if claim_id == "aida-fig1":  # q = 2: no rho = 1 crossing, Theorem 2 does not apply
        cfg = dict(claim.quick.configs)["theorem2"]
        hyper = tuple((k, (2.0,) if k == "q" else v) for k, v in cfg.hyper)
        return _replace(claim, "theorem2", hyper=hyper)
    if claim_id == "aida-fig2":  # the (2, 1) grid where the (2, 2) one belongs
        return rp.with_configs(claim.quick, pq22=dict(claim.quick.configs)["pq21"])
    if claim_id == "aida-fig4":  # eta = 1e-7: nothing converges, (2, 1) is not outperformed
        return rp.with_configs(
            claim.quick,
            **{
                n: dataclasses.replace(c, hyper=(("learning_rate", (1e-7,)),), steps=300)
                for n, c in claim.quick.configs
            },
        )
    if claim_id == "maxva-chen":  # MAdam at eta = 5 and 2000 steps
        cfg = dict(claim.quick.configs)["chen"]
        opts = cfg.optimizers[:2] + ("madam[learning_rate=5,b1=0,b2_min=0.5,b2_max=1]",)
        return _replace(claim, "chen", optimizers=opts, steps=2000, seeds=8)
    if claim_id == "maxva-nqm":  # 20 steps: far from the noise floor
        return _replace(claim, "nqm", steps=20, log_every=1)
    if claim_id == "adamomentum-toys":  # AdaMomentum at lr 1e-4 cannot be fastest
        return rp.with_configs(
            claim.quick,
            **{
                n: dataclasses.replace(
                    c,
                    optimizers=("adamomentum[learning_rate=0.0001]", *c.optimizers[1:]),
                    steps=100,
                )
                for n, c in claim.quick.configs
            },
        )
    if claim_id == "layerwise-mlp":  # beta2 = 0.5 for every method, 300 steps
        return _replace(claim, "stepsizes", hyper=(("b2", (0.5,)),), steps=300)
    raise KeyError(claim_id)


@pytest.mark.parametrize("claim_id", list(QUICK_VERDICTS))
def test_quick_protocol_verdict(claim_id):
    res = rp.run_claim(rp.CLAIMS[claim_id], quick=True, draw=False)
    assert res.verdict == QUICK_VERDICTS[claim_id], [
        (r.quantity, r.measured, r.expected, r.verdict) for r in res.rows
    ]
    assert res.rows and all(isinstance(r.measured, float) for r in res.rows)


@pytest.mark.parametrize("claim_id", list(QUICK_VERDICTS))
def test_a_wrong_setting_is_not_reproduced(claim_id):
    claim = rp.CLAIMS[claim_id]
    res = rp.run_claim(claim, quick=True, protocol=_wrong(claim_id), draw=False)
    assert res.verdict != rp.REPRODUCED, [(r.quantity, r.measured, r.verdict) for r in res.rows]


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", list(QUICK_VERDICTS))
def test_full_protocol_runs_and_judges(claim_id):
    res = rp.run_claim(rp.CLAIMS[claim_id], quick=False, draw=False)
    assert res.verdict in rp.VERDICTS and res.rows


def test_verdicts_partly_names_the_rows_that_differ():
    rows = [rp.Row("a", 1.0, "1", "0", True), rp.Row("b", 2.0, "1", "0", False)]
    res = rp.ClaimResult(rp.CLAIMS["reddi-fig1"], True, rows, rp.PARTLY, {}, None, 0.0)
    frame = rp.verdict_frame([res])
    assert list(frame.columns) == rp.VERDICT_COLUMNS
    claim_row = frame[frame.quantity == "claim"].iloc[0]
    assert claim_row.verdict == "partly" and "b" in claim_row.note and "a" not in claim_row.note


def test_cli_writes_verdicts_manifest_figure_and_exits_by_strictness(tmp_path):
    runner = CliRunner()
    out = tmp_path / "r"
    res = runner.invoke(app, ["reproduce", "aida-fig1", "--quick", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    names = {p.rsplit("/", 1)[-1] for p in data["paths"]}
    assert {"verdicts.csv", "manifest.json", "aida-fig1.png", "theorem2_stability.csv"} <= names
    verdicts = pd.read_csv(out / "verdicts.csv")
    assert list(verdicts.columns) == rp.VERDICT_COLUMNS
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["claims"][0]["verdict"] == "reproduced"
    # --strict: exit 1 only when something is not reproduced (here: all reproduced)
    again = runner.invoke(
        app, ["reproduce", "aida-fig1", "--quick", "--strict", "--out", str(out), "--overwrite"]
    )
    assert again.exit_code == 0 and "wrote" in again.output


def test_cli_list_and_bad_input(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["reproduce", "list", "--json"])
    assert res.exit_code == 0
    rows = json.loads(res.stdout)
    assert [r["id"] for r in rows] == list(rp.CLAIMS)
    assert all(np.isfinite(r["full_s"]) and r["quick_s"] <= 30 for r in rows)
    bad = runner.invoke(app, ["reproduce", "nope", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and not (tmp_path / "x").exists()
    gallery = runner.invoke(app, ["reproduce", "reddi-fig1", "--quick", "--update-gallery"])
    assert gallery.exit_code == 2


def test_gallery_readme_keeps_other_claims_and_refuses_quick(tmp_path):
    from optlab.reproduce.save import update_gallery

    def result(cid, ok, quick=False):
        rows = [rp.Row("q", 1.0, "1", "0", ok)]
        verdict = rp.REPRODUCED if ok else rp.REFUTED
        return rp.ClaimResult(rp.CLAIMS[cid], quick, rows, verdict, {}, None, 0.0)

    update_gallery([result("reddi-fig1", True)], gallery=tmp_path)
    update_gallery([result("aida-fig1", False)], gallery=tmp_path)
    text = (tmp_path / "README.md").read_text()
    assert "## `reddi-fig1`: reproduced" in text and "## `aida-fig1`: refuted" in text
    assert text.index("reddi-fig1") < text.index("aida-fig1")  # registry order
    assert "optlab reproduce aida-fig1" in text and rp.CLAIMS["aida-fig1"].statement in text
    with pytest.raises(UsageError):
        update_gallery([result("reddi-fig1", True, quick=True)], gallery=tmp_path)


def test_error_lines_print_brackets_verbatim():
    res = CliRunner().invoke(app, ["reproduce", "x[p=2]"])
    assert res.exit_code == 2 and "'x[p=2]'" in res.output


def test_the_library_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = rp.run_claim(rp.CLAIMS["aida-fig1"], quick=True)  # a stability protocol
    assert res.figure is not None and res.results["theorem2"].table is not None
    assert list(tmp_path.iterdir()) == []
