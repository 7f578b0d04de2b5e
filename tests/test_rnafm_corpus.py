"""The pretraining corpus holds whole families out, removes duplicates and keeps the type-probe half apart."""
import shutil

import pytest

from paperlib.data import rna


def _have_sources():
    try:
        rna.tutorial_dir()
        rna.infernal_file("tRNA.sto")
    except FileNotFoundError:
        return False
    return shutil.which("cmemit") is not None


@pytest.mark.skipif(not _have_sources(), reason="needs data/rna-fm-tutorial and Debian infernal")
def test_held_out_families_never_reach_pretraining():
    from paperlib.rnafm.corpus import HELD_OUT_FAMILIES, HELD_OUT_TYPES, CorpusConfig, build_corpus

    c = build_corpus(CorpusConfig(emit_per_model=50, emit_long=5, emit_held_out=20))
    pre = c.split("pretrain") + c.split("val")
    assert not {e.family for e in pre} & set(HELD_OUT_FAMILIES)
    # corpus version 2's families (models built by cmbuild from seed alignments, LSU rRNA) reach pretraining
    assert {"U1", "U2", "U3", "PK-HAV", "LSU_rRNA"} <= {e.family for e in pre}
    assert {e.family for e in c.split("held_out_family")} <= set(HELD_OUT_FAMILIES)
    assert not {e.rtype for e in pre} & set(HELD_OUT_TYPES)
    seqs = [e.seq for e in c.entries]
    assert len(seqs) == len(set(seqs))  # exact duplicates removed
    probe = c.split("rnacentral_probe")
    assert len({e.rtype for e in probe}) == 28 and not {e.seq for e in probe} & {e.seq for e in pre}
    # consensus structures projected onto cmemit members are valid pairings of their sequences
    for e in c.split("held_out_family"):
        if e.pairs:
            assert all(0 <= i < j < len(e.seq) for i, j in e.pairs)
            assert len({k for p in e.pairs for k in p}) == 2 * len(e.pairs)


def test_missing_infernal_file_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(rna, "INFERNAL_TESTSUITE", tmp_path)
    with pytest.raises(FileNotFoundError, match="apt-get install -y infernal"):
        rna.infernal_file("tRNA.sto")
