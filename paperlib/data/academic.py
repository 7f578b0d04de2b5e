"""Academic function recognition datasets from ``$PAPERLIB_DATA_DIR/academic`` (see each SOURCE.md).

Four tasks at three granularities:

* ``acl-arc``: citation function, 6 classes (Jurgens et al. 2018, Cohan et al. 2019 split).
* ``scicite``: citation function, 3 classes (Cohan et al. 2019).
* ``csabstruct``: abstract sentence function, 5 classes (Cohan et al. 2019); stand-in for PubMed RCT.
* ``scierc``: keyword function, the 6 SciERC entity types of a term in its sentence (Luan et al. 2018);
  stand-in for a keyword-function dataset.

Each split is a list of :class:`Example` (``text``, ``label`` index, and ``term`` for the keyword task).
A malformed row raises :class:`DatasetFormatError` naming the file and line.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from . import MissingDataError, data_dir

LABELS = {
    "acl-arc": ["Background", "Uses", "CompareOrContrast", "Motivation", "Extends", "Future"],
    "scicite": ["background", "method", "result"],
    "csabstruct": ["background", "objective", "method", "result", "other"],
    "scierc": ["Task", "Method", "Metric", "Material", "OtherScientificTerm", "Generic"],
}
TASKS = list(LABELS)
FOLDERS = {"acl-arc": "acl-arc", "scicite": "scicite", "csabstruct": "csabstruct", "scierc": "scierc-ner"}
SPLITS = ("train", "dev", "test")


class DatasetFormatError(ValueError):
    """A dataset file has a row paperlib cannot read; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    text: str
    label: int
    term: str = ""  # the keyword (scierc only)


def _bad(path: Path, line: int, what: str) -> DatasetFormatError:
    return DatasetFormatError(f"{path}:{line}: {what}. Fix or remove that row (see the dataset's SOURCE.md "
                              f"for the expected format), or restore the file from its source.")


def _label(task: str, value, path: Path, line: int) -> int:
    try:
        return LABELS[task].index(value)
    except ValueError:
        raise _bad(path, line, f"unknown label {value!r} for {task} (expected one of {LABELS[task]})") from None


def _jsonl(path: Path):
    with path.open(encoding="utf-8") as f:
        for i, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as e:
                raise _bad(path, i, f"not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise _bad(path, i, "expected a JSON object")
            yield i, row


def _field(row: dict, key: str, path: Path, line: int, kind=str):
    if key not in row or not isinstance(row[key], kind):
        raise _bad(path, line, f"missing or malformed field {key!r}")
    return row[key]


def _read_text_label(task: str, path: Path, text_key: str) -> list[Example]:
    out = []
    for i, row in _jsonl(path):
        text = _field(row, text_key, path, i).strip()
        if not text:
            raise _bad(path, i, f"empty {text_key!r}")
        out.append(Example(text, _label(task, _field(row, "label", path, i), path, i)))
    return out


def _read_scicite_csv(path: Path) -> list[Example]:
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or header[:2] != ["string", "label"]:
            raise _bad(path, 1, f"expected a header starting 'string,label', got {header}")
        start = reader.line_num
        for row in reader:
            if len(row) != len(header):
                raise _bad(path, start + 1, f"expected {len(header)} columns, got {len(row)}")
            text = row[0].strip()
            if not text:
                raise _bad(path, start + 1, "empty 'string'")
            out.append(Example(" ".join(text.split()), _label("scicite", row[1], path, start + 1)))
            start = reader.line_num
    return out


def _read_csabstruct(path: Path) -> list[Example]:
    out = []
    for i, row in _jsonl(path):
        sents, labels = _field(row, "sentences", path, i, list), _field(row, "labels", path, i, list)
        if len(sents) != len(labels):
            raise _bad(path, i, f"{len(sents)} sentences but {len(labels)} labels")
        for s, lab in zip(sents, labels):
            if not isinstance(s, str) or not s.strip():
                raise _bad(path, i, "an empty or non-text sentence")
            out.append(Example(s.strip(), _label("csabstruct", lab, path, i)))
    return out


def _read_scierc(path: Path) -> list[Example]:
    """Every maximal same-type mention (IOB1: ``I-T`` continues a span, ``B-T`` starts a new one), with its
    sentence as the text."""
    out: list[Example] = []
    tokens: list[str] = []
    tags: list[str] = []

    def flush():
        spans, cur = [], None
        for k, tag in enumerate(tags + ["O"]):
            typ = tag[2:] if tag != "O" else None
            if cur and (typ != cur[0] or tag.startswith("B-")):
                spans.append(cur)
                cur = None
            if typ and cur is None:
                cur = [typ, k, k]
            elif typ:
                cur[2] = k
        sentence = " ".join(tokens)
        for typ, a, b in spans:
            out.append(Example(sentence, LABELS["scierc"].index(typ), " ".join(tokens[a:b + 1])))
        tokens.clear()
        tags.clear()

    with path.open(encoding="utf-8") as f:
        for i, raw in enumerate(f, 1):
            parts = raw.split()
            if not parts:
                flush()
                continue
            if parts[0] == "-DOCSTART-":
                continue
            if len(parts) != 4:
                raise _bad(path, i, f"expected 4 columns 'token POS O TAG', got {len(parts)}")
            tag = parts[3]
            if tag != "O" and not (tag[:2] in ("I-", "B-") and tag[2:] in LABELS["scierc"]):
                raise _bad(path, i, f"unknown tag {tag!r} (expected O, I-<type> or B-<type> with a type in "
                                    f"{LABELS['scierc']})")
            tokens.append(parts[0])
            tags.append(tag)
    flush()
    return out


def dataset_path(task: str) -> Path:
    if task not in LABELS:
        raise ValueError(f"unknown task {task!r}; valid: {TASKS}")
    path = data_dir() / "academic" / FOLDERS[task]
    if not path.is_dir():
        raise MissingDataError(f"{path} does not exist: put the academic datasets under "
                               f"$PAPERLIB_DATA_DIR/academic/ (see each folder's SOURCE.md)")
    return path


def load_split(task: str, split: str, root: Path | None = None) -> list[Example]:
    """One split of one task. ``root``: the task's folder (default: under the data directory)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {SPLITS}")
    root = Path(root) if root is not None else dataset_path(task)
    if task == "acl-arc":
        return _read_text_label(task, root / f"{split}.txt", "text")
    if task == "scicite":
        if split == "train":
            return _read_scicite_csv(root / "train.csv")
        return _read_text_label(task, root / f"{split}.jsonl", "string")
    if task == "csabstruct":
        return _read_csabstruct(root / f"{split}.jsonl")
    if task == "scierc":
        return _read_scierc(root / f"{split}.txt")
    raise ValueError(f"unknown task {task!r}; valid: {TASKS}")


def load_task(task: str, root: Path | None = None) -> dict[str, list[Example]]:
    return {s: load_split(task, s, root) for s in SPLITS}


def pretraining_sentences(tasks=TASKS) -> list[str]:
    """The unlabelled in-domain text for MLM pretraining: train-split sentences only (never dev or test),
    each distinct sentence once."""
    seen, out = set(), []
    for t in tasks:
        for ex in load_split(t, "train"):
            if ex.text not in seen:
                seen.add(ex.text)
                out.append(ex.text)
    return out


#: Hugging Face hub copies of the original datasets, for users who are online (``load_hub``).
HUB_IDS = {"scicite": "allenai/scicite"}


def as_dataset(task: str, split: str, root: Path | None = None):
    """One split as a Hugging Face ``datasets.Dataset`` (columns ``text``, ``label`` as a ClassLabel with
    the task's names, ``term``), saved as Arrow under the cache directory, keyed by the SHA-256 sums of
    the source files, so a second call memory-maps it instead of parsing the text again."""
    import hashlib

    import datasets

    from . import cache_dir

    folder = Path(root) if root is not None else dataset_path(task)
    sums = folder / "SHA256SUMS"
    source = sums.read_bytes() if sums.is_file() else b"".join(
        p.name.encode() + p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())
    key = hashlib.sha256(source + task.encode() + split.encode()).hexdigest()[:16]
    path = cache_dir("academic", f"{task}-{split}-{key}")
    if (path / "dataset_info.json").is_file():
        return datasets.load_from_disk(str(path))
    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=LABELS[task]),
                                  "term": datasets.Value("string")})
    rows = [{"text": ex.text, "label": ex.label, "term": ex.term} for ex in load_split(task, split, folder)]
    ds = datasets.Dataset.from_list(rows, features=features)
    tmp = path.with_name(path.name + ".tmp")
    ds.save_to_disk(str(tmp))
    if path.exists():
        import shutil

        shutil.rmtree(path)
    tmp.rename(path)  # a half-written cache never looks complete
    return datasets.load_from_disk(str(path))


def load_hub(task: str, split: str):
    """The original dataset from the Hugging Face hub (online only), as ``datasets`` loads it.

    Only SciCite has an official hub copy (``allenai/scicite``); its columns are the original JSONL's
    (``string``, ``label``, ...), not this module's. Offline, raises MissingDataError naming what to fetch.
    """
    if task not in HUB_IDS:
        raise ValueError(f"{task} has no hub copy; use as_dataset({task!r}, {split!r}) (the repository's data/)")
    import datasets

    hub_split = {"dev": "validation"}.get(split, split)
    try:
        return datasets.load_dataset(HUB_IDS[task], split=hub_split)
    except (ConnectionError, OSError) as err:
        raise MissingDataError(f"could not load {HUB_IDS[task]} from the Hugging Face hub ({type(err).__name__}: "
                               f"{err}). Go online once (it is cached under ~/.cache/huggingface), or use "
                               f"as_dataset({task!r}, {split!r}), which reads the copy in data/academic/.") from None
