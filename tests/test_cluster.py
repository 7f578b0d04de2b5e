"""Seeds spread over jobs: the per-seed cache, resuming, and the submitit path end to end."""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from paperlib.repro import seeds as seeds_mod
from paperlib.repro.registry import ReproError, get_paper

ROOT = Path(__file__).resolve().parents[1]


def rows_for(todo, calls):
    calls.append(list(todo))
    return [{"seed": s, "arm": a, "acc": s + 0.1 * a, "curve": (s, a)} for s in todo for a in (0, 1)]


def cache(tmp_path, read, params=None, code_cells="x = 1"):
    nb = tmp_path / "nb.py"
    nb.write_text(f"# %%\n{code_cells}\n")
    return seeds_mod.SeedCache("nosuchpaper", params or {"seeds": [0, 1, 2], "lr": 0.1}, nb, root=tmp_path / "c",
                               read=read)


def test_a_plain_run_recomputes_but_a_resumed_one_reads_only_what_is_missing(tmp_path):
    calls = []
    first = cache(tmp_path, read=False).run("study", [0, 1], lambda t: rows_for(t, calls), log=lambda m: None)
    again = cache(tmp_path, read=False).run("study", [0, 1], lambda t: rows_for(t, calls), log=lambda m: None)
    assert calls == [[0, 1], [0, 1]] and first == again
    resumed = cache(tmp_path, read=True).run("study", [0, 1, 2], lambda t: rows_for(t, calls), log=lambda m: None)
    assert calls[-1] == [2]
    assert resumed == json.loads(json.dumps(rows_for([0, 1, 2], [])))  # tuples come back as lists
    assert [r["seed"] for r in resumed] == [0, 0, 1, 1, 2, 2]


def test_cached_and_computed_rows_look_the_same(tmp_path):
    computed = cache(tmp_path, read=False).run("study", [0], lambda t: rows_for(t, []), log=lambda m: None)
    read = cache(tmp_path, read=True).run("study", [0], lambda t: pytest.fail("must read"), log=lambda m: None)
    assert computed == read and computed[0]["curve"] == [0, 0]


def test_the_key_covers_parameters_and_code_but_not_seeds(tmp_path):
    a = cache(tmp_path, read=True).folder("study")
    assert cache(tmp_path, read=True, params={"seeds": [5], "lr": 0.1}).folder("study") == a
    assert cache(tmp_path, read=True, params={"seeds": [0, 1, 2], "lr": 0.2}).folder("study") != a
    assert cache(tmp_path, read=True, code_cells="x = 2").folder("study") != a
    assert cache(tmp_path, read=True).folder("other") != a


def test_a_failed_computation_leaves_the_finished_seeds_whole(tmp_path):
    c = cache(tmp_path, read=True)
    c.run("study", [0], lambda t: rows_for(t, []), log=lambda m: None)

    def crash(todo):
        raise KeyboardInterrupt  # killed while seeds 1 and 2 ran

    with pytest.raises(KeyboardInterrupt):
        c.run("study", [0, 1, 2], crash, log=lambda m: None)
    files = sorted(p.name for p in c.folder("study").iterdir())
    assert files == ["seed-0.json"]  # no half-written file, no temporary left behind
    calls = []
    c.run("study", [0, 1, 2], lambda t: rows_for(t, calls), log=lambda m: None)
    assert calls == [[1, 2]]


def test_rows_must_name_their_seed(tmp_path):
    with pytest.raises(ValueError, match="'seed' key"):
        cache(tmp_path, read=False).run("study", [0], lambda t: [{"acc": 1.0}], log=lambda m: None)


def test_off_turns_the_cache_off(monkeypatch):
    monkeypatch.setenv(seeds_mod.SEED_CACHE_ENV, "off")
    assert seeds_mod.cache_root() is None


def test_split_needs_a_submitit_executor_and_a_splittable_paper():
    from paperlib.repro.cluster import submit
    paper = get_paper("compsum")
    with pytest.raises(ReproError, match="--executor"):
        submit([(paper, {})], "smoke", None, "local", "seeds", {})
    unsplittable = [p for slug in ("funbat", "rnafm") for p in [get_paper(slug)] if "seeds" not in (p.meta.get("split") or [])]
    if unsplittable:
        with pytest.raises(ReproError, match="cannot run --split seeds"):
            submit([(unsplittable[0], {})], "smoke", None, "submitit-local", "seeds", {})


def test_profiles_declare_their_resources():
    res = get_paper("compsum").resources("full")
    assert res["gpus"] >= 1 and res["hours"] > 0


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "paperlib", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)


@pytest.mark.slow
def test_split_seeds_through_submitit_equals_a_plain_run_and_resumes(tmp_path):
    pytest.importorskip("submitit")
    env = {**os.environ, "PAPERLIB_SEED_CACHE": str(tmp_path / "seedcache")}
    # 3 seeds -> 3 jobs + 1 merge; one ADV-COMP-SUM and one TRADES weight (as the preflight) to keep it short
    seeds = "-p", "seeds=[0,1,2]", "-p", "nus=[1.0]", "-p", "betas=[6.0]"
    # the plain run (no seed cache) runs beside the split one: it shares nothing with it
    with ThreadPoolExecutor(1) as beside:
        plain_run = beside.submit(_cli, "reproduce", "compsum", "--profile", "smoke", *seeds, "--out",
                                  str(tmp_path / "plain"), "-q", env={**env, "PAPERLIB_SEED_CACHE": "off"})
        split = _cli("reproduce", "compsum", "--profile", "smoke", *seeds, "--out", str(tmp_path / "split"), "-q",
                     "--executor", "submitit-local", "--split", "seeds", env=env)
        plain = plain_run.result()
    assert split.returncode == 0, split.stderr[-3000:]
    assert sum("compsum seed" in ln and "DONE" in ln for ln in split.stderr.splitlines()) == 3, split.stderr
    assert "merge over all seeds" in split.stderr
    assert plain.returncode == 0, plain.stderr[-3000:]
    merged = json.loads((tmp_path / "split/compsum/results.json").read_text())
    local = json.loads((tmp_path / "plain/compsum/results.json").read_text())
    assert merged["measurements"] == local["measurements"]
    assert [c["verdict"] for c in merged["claims"]] == [c["verdict"] for c in local["claims"]]
    cached = [a for a in merged["artifacts"] if a.get("cached") and a["kind"].startswith("seed-rows/")]
    assert sorted((a["kind"], a["seed"]) for a in cached) == sorted(
        (f"seed-rows/compsum/{u}", s) for u in ("mixtures", "adversarial") for s in (0, 1, 2))
    # a killed seed job: its file is missing; the same command recomputes only that seed
    for f in (tmp_path / "seedcache/compsum").glob("*/seed-1.json"):
        f.unlink()
    again = _cli("reproduce", "compsum", "--profile", "smoke", *seeds, "--out", str(tmp_path / "split2"), "-q",
                 "--executor", "submitit-local", "--split", "seeds", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads((tmp_path / "split2/compsum/results.json").read_text())
    assert rerun["measurements"] == local["measurements"]
