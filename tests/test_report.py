"""`paperlib report` rebuilds the cross-paper table from results.json files, not by hand."""
import json
import shutil

from paperlib.repro import claims
from paperlib.repro.report import write_report


def test_report_tables_committed_results(tmp_path, monkeypatch):
    from conftest import ROOT
    shutil.copytree(ROOT / "reproductions", tmp_path / "reproductions",
                    ignore=shutil.ignore_patterns("results"))
    (tmp_path / "README.md").write_text("# x\n<!-- claims:begin -->\nSTALE-TABLE\n<!-- claims:end -->\ntail\n")
    spec = [{"id": "C9", "statement": "a beats b", "paper_value": "+1", "where": "Table 9",
             "conditions": [{"measurement": "d", "test": "greater", "value": 0, "margin": 0.05, "reason": "r"}]}]
    res = {"paper": "compsum", "profile": "quick", "status": "ok",
           "manifest": {"wall_s": 12.0, "git_sha": "abc", "dirty": False, "hardware": {"cpu_count": 2, "gpu": None}},
           "claims": claims.evaluate(spec, {"d": [0.1, 0.2, 0.15]})}
    out = tmp_path / "reproductions" / "compsum" / "results" / "quick"
    out.mkdir(parents=True)
    (out / "results.json").write_text(json.dumps(res))
    monkeypatch.setenv("PAPERLIB_ROOT", str(tmp_path))
    table = write_report().read_text()
    assert "C9" in table and "reproduced" in table and "1 reproduced of 1" in table and "Table 9" in table
    readme = (tmp_path / "README.md").read_text()
    assert "STALE-TABLE" not in readme and "| compsum | quick | 1 | 1 | 0 | 0 | 0 |" in readme
    assert readme.endswith("tail\n")


def test_reevaluate_recomputes_verdicts_from_recorded_measurements(tmp_path, monkeypatch):
    from conftest import ROOT
    from paperlib.repro.report import reevaluate
    shutil.copytree(ROOT / "reproductions" / "compsum", tmp_path / "reproductions" / "compsum",
                    ignore=shutil.ignore_patterns("results"))
    (tmp_path / "reproductions" / "compsum" / "claims.yaml").write_text(
        "claims:\n  - id: C1\n    statement: s\n    where: Table 1\n    conditions:\n"
        "      - {measurement: d, test: greater, value: 0, margin: 0.1, reason: r}\n"
        "      - {measurement: never_recorded, test: greater, value: 0, margin: 0.1, reason: r}\n"
        "checks:\n  - id: K1\n    statement: s\n    conditions:\n"
        "      - {measurement: d, test: less, value: 1, margin: 0, reason: r}\n")
    out = tmp_path / "reproductions" / "compsum" / "results" / "quick"
    out.mkdir(parents=True)
    old = {"paper": "compsum", "profile": "quick", "measurements": {"d": [0.3, 0.31, 0.32]},
           "claims": [{"id": "C1", "holds": False}], "manifest": {}}
    (out / "results.json").write_text(json.dumps(old))
    monkeypatch.setenv("PAPERLIB_ROOT", str(tmp_path))
    res = reevaluate(out / "results.json")
    assert res["previous_verdicts"] == {"C1": "does not hold"}
    assert res["claims"][0]["verdict"] == "not_assessed"  # one condition's measurement was never recorded
    assert res["claims"][0]["conditions"][0]["verdict"] == "reproduced"
    assert res["checks"][0]["verdict"] == "reproduced"
    assert json.loads((out / "results.json").read_text())["claims"][0]["verdict"] == "not_assessed"
