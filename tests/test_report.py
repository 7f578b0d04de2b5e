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
    spec = [{"id": "C9", "statement": "a beats b", "paper_value": "+1",
             "conditions": [{"measurement": "d", "test": "ci_above", "value": 0}]}]
    res = {"paper": "compsum", "profile": "quick", "status": "ok",
           "manifest": {"wall_s": 12.0, "git_sha": "abc", "dirty": False, "hardware": {"cpu_count": 2, "gpu": None}},
           "claims": claims.evaluate(spec, {"d": [0.1, 0.2, 0.15]})}
    out = tmp_path / "reproductions" / "compsum" / "results" / "quick"
    out.mkdir(parents=True)
    (out / "results.json").write_text(json.dumps(res))
    monkeypatch.setenv("PAPERLIB_ROOT", str(tmp_path))
    table = write_report().read_text()
    assert "C9" in table and "holds" in table and "1 of 1 claims hold" in table
    readme = (tmp_path / "README.md").read_text()
    assert "STALE-TABLE" not in readme and "C9" in readme and readme.endswith("tail\n")
