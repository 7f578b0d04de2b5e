"""Cache keys that cover the code that made an artefact, and the record of the artefacts a run used."""
import json

import pytest

import paperlib.cache as cache


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A throwaway ``paperlib`` source tree: a imports b (relative) and c (inside a function, from the
    package, whose __init__ runs too); d stands alone."""
    pkg = tmp_path / "paperlib"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from .b import f\n\ndef g():\n    from paperlib import c\n    return c\n")
    (pkg / "sub" / "b.py").write_text("import numpy\n\ndef f():\n    return 1\n")
    (pkg / "c.py").write_text("X = 1\n")
    (pkg / "d.py").write_text("Y = 2\n")
    monkeypatch.setattr(cache, "PACKAGE_DIR", pkg)
    return pkg


def test_code_version_follows_paperlib_imports_only(fake_package):
    assert list(cache.source_files("paperlib.sub.a")) == ["paperlib", "paperlib.c", "paperlib.sub.a", "paperlib.sub.b"]
    # a file path is hashed alone
    assert list(cache.source_files(str(fake_package / "sub" / "a.py"))) == ["paperlib.sub.a"]
    with pytest.raises(ValueError, match="not a module"):
        cache.code_version("paperlib.nosuch")


def test_code_version_changes_with_the_source_of_an_imported_module(fake_package):
    before = cache.code_version("paperlib.sub.a")
    assert cache.code_version("paperlib.sub.a") == before
    (fake_package / "d.py").write_text("Y = 3\n")  # not imported by a
    assert cache.code_version("paperlib.sub.a") == before
    (fake_package / "c.py").write_text("X = 2\n")  # imported inside a function of a
    assert cache.code_version("paperlib.sub.a") != before


def test_artifact_key_covers_inputs_and_code_and_is_noted_in_the_run_log(fake_package, tmp_path, monkeypatch):
    log = tmp_path / "artifacts.jsonl"
    monkeypatch.setenv(cache.ARTIFACT_LOG_ENV, str(log))
    k1 = cache.artifact_key("x/model", {"lr": 0.1}, "paperlib.sub.a")
    assert cache.artifact_key("x/model", {"lr": 0.1}, "paperlib.sub.a") == k1
    k_lr = cache.artifact_key("x/model", {"lr": 0.2}, "paperlib.sub.a")
    assert k_lr != k1
    (fake_package / "sub" / "b.py").write_text("def f():\n    return 2\n")
    k2 = cache.artifact_key("x/model", {"lr": 0.1}, "paperlib.sub.a")
    assert k2 != k1
    noted = cache.read_artifact_log(log)
    assert [e["key"] for e in noted] == [k1, k_lr, k2]
    assert noted[0]["kind"] == "x/model" and noted[0]["modules"] == ["paperlib", "paperlib.c", "paperlib.sub.a", "paperlib.sub.b"]
    assert noted[0]["code_version"] != noted[2]["code_version"]


def test_no_run_no_log(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.ARTIFACT_LOG_ENV, raising=False)
    cache.note_artifact({"kind": "k", "key": "0"})  # nowhere to write: nothing happens
    assert cache.read_artifact_log(tmp_path / "none.jsonl") == []


def _noted_modules(monkeypatch, tmp_path, call):
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv(cache.ARTIFACT_LOG_ENV, str(log))
    call()
    (entry,) = cache.read_artifact_log(log)
    return entry


def test_sft_key_covers_the_data_generator_model_and_trainer(monkeypatch, tmp_path):
    from paperlib.prime.sft import SFTConfig

    entry = _noted_modules(monkeypatch, tmp_path, lambda: SFTConfig().key())
    assert {"paperlib.rl.sft", "paperlib.data.arithmetic", "paperlib.nn.gpt", "paperlib.training"} <= set(entry["modules"])
    assert entry["key"] == SFTConfig().key() != SFTConfig(seed=1).key()
    monkeypatch.setattr(cache, "code_version", lambda *m: "another version")
    assert SFTConfig().key() != entry["key"]


def test_mpt_inlm_key_covers_the_mlm_code(monkeypatch, tmp_path):
    from paperlib.mpt.plm import InLMConfig, _key

    entry = _noted_modules(monkeypatch, tmp_path, lambda: _key(InLMConfig(), ["a sentence"]))
    assert {"paperlib.mpt.plm", "paperlib.nn.bert", "paperlib.data.vocab"} <= set(entry["modules"])
    assert "paperlib.mpt.prompts" not in entry["modules"]  # prompting code does not make the MLM
    assert _key(InLMConfig(), ["another sentence"]) != entry["key"]


def test_alol_reference_key_covers_the_task_code_and_the_model(monkeypatch, tmp_path):
    import paperlib.alol.reference as ref
    from paperlib.alol.tasks import ArithmeticTask

    class Stop(Exception):
        pass

    def stop(*_):
        raise Stop

    monkeypatch.setattr(ref, "cache_dir", lambda *parts: tmp_path)
    monkeypatch.setattr(ref, "seed_everything", stop)  # the key is made; nothing is trained

    def call():
        with pytest.raises(Stop):
            ref.train_reference(ArithmeticTask(), None, ref.ReferenceConfig(), "data-key")

    entry = _noted_modules(monkeypatch, tmp_path, call)
    assert entry["kind"] == "alol/reference"
    assert {"paperlib.alol.reference", "paperlib.alol.tasks", "paperlib.data.arithmetic", "paperlib.nn.gpt",
            "paperlib.training"} <= set(entry["modules"])


def test_a_run_records_the_artifacts_it_used(monkeypatch, tmp_path):
    from paperlib.repro.record import RUN_DIR_ENV, Run

    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    run = Run("compsum", {"seeds": [0]})
    cache.artifact_key("t/a", {"x": 1}, "paperlib.training")
    cache.artifact_key("t/a", {"x": 1}, "paperlib.training")  # used twice, recorded once
    record = json.loads(run.save().read_text())
    assert [a["kind"] for a in record["artifacts"]] == ["t/a"]
    assert record["artifacts"][0]["code_version"] == cache.code_version("paperlib.training")
