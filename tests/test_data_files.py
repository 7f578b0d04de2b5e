"""The small datasets that travel with the repository are what their SOURCE.md says, byte for byte."""
from pathlib import Path

import pytest

from paperlib.data import REPO_DATA, verify_checksums

FOLDERS = sorted(p.parent for p in REPO_DATA.rglob("SHA256SUMS"))


def test_every_dataset_folder_is_checked():
    names = {p.relative_to(REPO_DATA).as_posix() for p in FOLDERS}
    assert {"spatiotemporal", "rna-fm-tutorial", "academic/scicite", "academic/acl-arc",
            "academic/csabstruct", "academic/scierc-ner"} <= names
    # no data file outside a checked folder
    for path in REPO_DATA.rglob("*"):
        if path.is_file():
            assert any(f in path.parents for f in FOLDERS), f"{path} is in no folder with SHA256SUMS"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.relative_to(REPO_DATA).as_posix())
def test_checksums_source_and_licence(folder):
    assert verify_checksums(folder) == []


def test_a_changed_byte_is_caught(tmp_path):
    d = tmp_path / "ds"
    d.mkdir()
    (d / "SOURCE.md").write_text("x")
    (d / "LICENSE").write_text("x")
    (d / "a.txt").write_text("hello")
    import hashlib
    (d / "SHA256SUMS").write_text(f"{hashlib.sha256(b'hello').hexdigest()}  a.txt\n")
    assert verify_checksums(d) == []
    (d / "a.txt").write_text("hellO")
    (d / "b.txt").write_text("new")
    problems = verify_checksums(d)
    assert any("a.txt: SHA-256 differs" in p for p in problems) and any("b.txt: not listed" in p for p in problems)
