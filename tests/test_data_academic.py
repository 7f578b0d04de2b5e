"""The academic datasets' readers: the real files' counts (when present) and clear errors on bad rows."""
import json

import pytest

from paperlib.data import academic
from paperlib.data.academic import DatasetFormatError, load_split


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_jsonl_reader_and_bad_rows_name_file_and_line(tmp_path):
    good = json.dumps({"text": "We use X .", "label": "Uses", "metadata": {}})
    _write(tmp_path / "test.txt", good + "\n" + good + "\n")
    assert [e.label for e in load_split("acl-arc", "test", tmp_path)] == [1, 1]
    _write(tmp_path / "test.txt", good + "\n{not json\n")
    with pytest.raises(DatasetFormatError, match=r"test\.txt:2: not valid JSON"):
        load_split("acl-arc", "test", tmp_path)
    _write(tmp_path / "test.txt", good + "\n\n" + json.dumps({"text": "x", "label": "Nope"}) + "\n")
    with pytest.raises(DatasetFormatError, match=r"test\.txt:3: unknown label 'Nope'"):
        load_split("acl-arc", "test", tmp_path)
    _write(tmp_path / "test.txt", json.dumps({"label": "Uses"}) + "\n")
    with pytest.raises(DatasetFormatError, match=r"test\.txt:1: missing or malformed field 'text'"):
        load_split("acl-arc", "test", tmp_path)


def test_scicite_csv_with_multiline_rows_and_a_bad_row(tmp_path):
    _write(tmp_path / "train.csv", 'string,label,label_confidence\n"a\nb",method,1.0\nc,result,\n"d",oops,1\n')
    with pytest.raises(DatasetFormatError, match=r"train\.csv:5: unknown label 'oops'"):
        load_split("scicite", "train", tmp_path)
    _write(tmp_path / "train.csv", 'string,label,label_confidence\n"a\nb",method,1.0\nc,result\n')
    with pytest.raises(DatasetFormatError, match=r"train\.csv:4: expected 3 columns, got 2"):
        load_split("scicite", "train", tmp_path)
    _write(tmp_path / "train.csv", 'string,label,label_confidence\n"a\nb",method,1.0\nc,result,\n')
    ex = load_split("scicite", "train", tmp_path)
    assert [(e.text, e.label) for e in ex] == [("a b", 1), ("c", 2)]


def test_csabstruct_and_scierc_readers(tmp_path):
    _write(tmp_path / "dev.jsonl", json.dumps({"sentences": ["s1", "s2"], "labels": ["method", "result"]}) + "\n"
           + json.dumps({"sentences": ["s3"], "labels": ["method", "result"]}) + "\n")
    with pytest.raises(DatasetFormatError, match=r"dev\.jsonl:2: 1 sentences but 2 labels"):
        load_split("csabstruct", "dev", tmp_path)
    conll = ("-DOCSTART- NN O O\n\nWe NN O O\nuse NN O O\nneural NN O I-Method\nnets NN O I-Method\nfor NN O O\n"
             "parsing NN O I-Task\nand NN O O\nA NN O I-Generic\nB NN O B-Generic\n. NN O O\n\n")
    _write(tmp_path / "train.txt", conll)
    ex = load_split("scierc", "train", tmp_path)
    assert [(e.term, academic.LABELS["scierc"][e.label]) for e in ex] == [
        ("neural nets", "Method"), ("parsing", "Task"), ("A", "Generic"), ("B", "Generic")]
    assert ex[0].text == "We use neural nets for parsing and A B ."
    _write(tmp_path / "train.txt", conll.replace("I-Task", "I-Tsk"))
    with pytest.raises(DatasetFormatError, match=r"train\.txt:8: unknown tag 'I-Tsk'"):
        load_split("scierc", "train", tmp_path)
    _write(tmp_path / "train.txt", conll.replace("use NN O O", "use NN O"))
    with pytest.raises(DatasetFormatError, match=r"train\.txt:4: expected 4 columns"):
        load_split("scierc", "train", tmp_path)


def test_real_datasets_match_their_source_counts():
    try:
        academic.dataset_path("acl-arc")
    except academic.MissingDataError:
        pytest.skip("the academic datasets are not in the data directory")
    counts = {t: {s: len(load_split(t, s)) for s in academic.SPLITS} for t in academic.TASKS}
    assert counts["acl-arc"] == {"train": 1688, "dev": 114, "test": 139}
    assert counts["scicite"] == {"train": 8243, "dev": 916, "test": 1861}
    assert counts["csabstruct"] == {"train": 11333, "dev": 2026, "test": 1349}
    assert counts["scierc"] == {"train": 5572, "dev": 808, "test": 1683}  # mentions, as in SOURCE.md


def test_as_dataset_is_an_arrow_dataset_with_class_names_and_is_cached(tmp_path, monkeypatch):
    import datasets

    from paperlib.data import academic

    monkeypatch.setenv("PAPERLIB_CACHE_DIR", str(tmp_path))
    ds = academic.as_dataset("acl-arc", "dev")
    assert isinstance(ds, datasets.Dataset) and len(ds) == 114  # SOURCE.md's count
    assert ds.features["label"].names == academic.LABELS["acl-arc"]
    plain = academic.load_split("acl-arc", "dev")
    assert ds[0]["text"] == plain[0].text and ds[0]["label"] == plain[0].label
    again = academic.as_dataset("acl-arc", "dev")
    assert again.cache_files and again.cache_files[0]["filename"].startswith(str(tmp_path))
    assert not list(tmp_path.rglob("*.tmp"))


def test_load_hub_offline_is_a_clear_error(monkeypatch):
    import datasets

    from paperlib.data import MissingDataError, academic

    def offline(*a, **k):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(MissingDataError, match="allenai/scicite.*as_dataset"):
        academic.load_hub("scicite", "test")
    with pytest.raises(ValueError, match="no hub copy"):
        academic.load_hub("scierc", "test")
