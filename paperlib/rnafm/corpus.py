"""The unannotated RNA corpus for pretraining, and the held-out sets the probes are scored on.

RNA-FM pretrains on 23M RNAcentral sequences and probes on held-out data. Here (see REPORT.md):

* sources: the RNA-FM tutorial FASTA (5S rRNA, tRNA, RNase P, an RNAcentral sample with 28 RNA
  types), Infernal's Rfam-style seed alignments (``*.sto``), and members sampled with ``cmemit``
  from Infernal's covariance models (with the model's consensus structure projected onto each);
* exact duplicates are removed (first source wins);
* **whole families are held out** of pretraining (:data:`HELD_OUT_FAMILIES`), so MLM accuracy, the
  structure probe and the attention probe are scored on families the model never saw; RNAcentral
  types that *are* those families (SRP, vault, hammerhead) are dropped from pretraining too;
* half of the RNAcentral sample (stratified by type) is held out for the RNA-type probe, and a
  random 3% of every pretraining family is kept out as an in-distribution validation split.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field

from paperlib.data import rna

#: covariance model file -> family label (models of one clan share a label)
CM_FAMILIES = {
    "tRNA.c.cm": "tRNA", "tRNA-Sec.c.cm": "tRNA", "rnaseP-eubact.c.cm": "RNaseP",
    "bug-i37.cm": "CMfinder-internal", "bug-i36.cm": "input-family", "bug-i45.cm": "SSU_rRNA",
    "Vault.c.cm": "Vault", "snR75.c.cm": "snR75", "Plant_SRP.c.cm": "SRP", "srp-euk.c.cm": "SRP",
    "bug-i28.cm": "SRP", "bug-i33.cm": "mascRNA-menRNA", "bug-i34.cm": "Hammerhead_1",
    "bug-i29.cm": "RF00974",
}
#: Stockholm seed alignments -> family label
STO_FAMILIES = {"tRNA.sto": "tRNA", "tRNA1415G.sto": "tRNA", "rnaseP-eubact.sto": "RNaseP", "RNaseP.sto": "RNaseP",
                "Vault.sto": "Vault", "snR75.sto": "snR75", "Plant_SRP.sto": "SRP", "srp-euk.sto": "SRP"}
TUTORIAL_FAMILIES = {"RF00001.fasta": "5S_rRNA", "RF00005.fasta": "tRNA", "RF00010.fasta": "RNaseP"}
HELD_OUT_FAMILIES = ("Vault", "snR75", "SRP", "mascRNA-menRNA", "Hammerhead_1", "RF00974")
#: RNAcentral types that are held-out families, kept out of pretraining
HELD_OUT_TYPES = ("SRP_RNA", "vault_RNA", "hammerhead_ribozyme")
RNACENTRAL = "format_rnacentral_active.100.sample-Max50.fasta"
#: corpus version 2 adds every other family Infernal's test suite holds (pretraining families): seed
#: alignments without a model get one built by ``cmbuild`` (no calibration: ``cmemit`` needs none)
V2_SEED_MODELS = {"3.4.12.rf.stk": {"U1": "U1", "U2": "U2", "U3": "U3"}, "PK-HAV.sto": {"PK-HAV": "PK-HAV"}}
V2_CM_FAMILIES = {"tRNA1415G.c.cm": "tRNA", "bug-i43.cm": "LSU_rRNA"}
#: a manifest written before ``version`` existed was made from version 1
LEGACY_CORPUS_DEFAULTS = {"version": 1}


@dataclass
class CorpusConfig:
    emit_per_model: int = 10000  # cmemit samples per pretraining-family model
    emit_long: int = 300  # ... for models longer than 1,000 nt (SSU rRNA)
    emit_held_out: int = 200  # cmemit samples per held-out-family model (probe data)
    val_fraction: float = 0.03  # in-distribution validation split of the pretraining families
    seed: int = 0
    version: int = 2  # 1: the families of the committed cpu checkpoint; 2: + U1, U2, U3, PK-HAV, LSU rRNA

    def key(self) -> str:
        """Cache key: the configuration and the code version of the corpus builder (paperlib.cache)."""
        from paperlib.cache import artifact_key

        return artifact_key("rnafm/corpus", asdict(self), __name__, length=12)


@dataclass
class Entry:
    seq: str
    family: str  # family label; "rnacentral" for the RNAcentral sample
    source: str  # tutorial / seed / cmemit
    rtype: str = ""  # RNAcentral type
    pairs: list | None = None  # consensus pairs projected onto the sequence (seed / cmemit members)
    split: str = ""  # pretrain / val / held_out_family / rnacentral_probe


@dataclass
class Corpus:
    entries: list[Entry] = field(default_factory=list)
    config: CorpusConfig = field(default_factory=CorpusConfig)

    def split(self, name: str) -> list[Entry]:
        return [e for e in self.entries if e.split == name]

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for e in self.entries:
            h.update(f"{e.split}\t{e.family}\t{e.seq}\n".encode())
        return h.hexdigest()[:16]

    def summary(self) -> dict:
        out: dict = {}
        for e in self.entries:
            d = out.setdefault(e.split, {"sequences": 0, "nucleotides": 0, "families": set()})
            d["sequences"] += 1
            d["nucleotides"] += len(e.seq)
            d["families"].add(e.family)
        return {k: {**v, "families": sorted(v["families"])} for k, v in out.items()}


def build_corpus(cfg: CorpusConfig = CorpusConfig()) -> Corpus:
    rng = random.Random(cfg.seed)
    raw: list[Entry] = []
    tut = rna.tutorial_dir()
    for fname, fam in TUTORIAL_FAMILIES.items():
        raw += [Entry(r.seq, fam, "tutorial") for r in rna.read_fasta(tut / fname)]
    by_type: dict[str, list[Entry]] = {}
    for r in rna.read_fasta(tut / RNACENTRAL):
        rtype = r.description.split()[0] if r.description else "unknown"
        by_type.setdefault(rtype, []).append(Entry(r.seq, "rnacentral", "tutorial", rtype=rtype))
    for rtype, es in sorted(by_type.items()):
        rng.shuffle(es)
        for k, e in enumerate(es):
            e.split = "rnacentral_probe" if (k % 2 == 0 or rtype in HELD_OUT_TYPES) else ""
        raw += es
    for fname, fam in STO_FAMILIES.items():
        for aln in rna.read_stockholm(rna.infernal_file(fname)):
            raw += [Entry(s, fam, "seed", pairs=p) for _, s, p in aln.members()]
    for k, (fname, fam) in enumerate(CM_FAMILIES.items()):
        held = fam in HELD_OUT_FAMILIES
        n = cfg.emit_held_out if held else cfg.emit_per_model
        if fname in ("bug-i45.cm",):
            n = cfg.emit_long
        for aln in rna.cmemit(fname, n, seed=cfg.seed * 1000 + k + 1):
            raw += [Entry(s, fam, "cmemit", pairs=p) for _, s, p in aln.members()]
    if cfg.version >= 2:  # appended after version 1's sources, so their splits (and draws) stay as they were
        raw += _version2_entries(cfg)
    elif cfg.version != 1:
        raise ValueError(f"unknown corpus version {cfg.version}; valid: 1, 2")
    seen: set[str] = set()
    entries = []
    for e in raw:
        if not e.seq or e.seq in seen:
            continue
        seen.add(e.seq)
        if not e.split:
            if e.family in HELD_OUT_FAMILIES:
                e.split = "held_out_family"
            else:
                e.split = "val" if rng.random() < cfg.val_fraction else "pretrain"
        entries.append(e)
    return Corpus(entries, cfg)


def _version2_entries(cfg: CorpusConfig) -> list[Entry]:
    out: list[Entry] = []
    for k, (fname, names) in enumerate(V2_SEED_MODELS.items()):
        alns = rna.read_stockholm(rna.infernal_file(fname))
        for aln in alns:
            fam = names.get(aln.id, aln.id)
            out += [Entry(s, fam, "seed", pairs=p) for _, s, p in aln.members()]
        for aln in rna.cmemit_built(fname, cfg.emit_per_model, seed=cfg.seed * 1000 + 101 + k):
            fam = names.get(aln.id, aln.id)
            out += [Entry(s, fam, "cmemit", pairs=p) for _, s, p in aln.members()]
    for k, (fname, fam) in enumerate(V2_CM_FAMILIES.items()):
        n = cfg.emit_long if fname == "bug-i43.cm" else cfg.emit_per_model
        for aln in rna.cmemit(fname, n, seed=cfg.seed * 1000 + 201 + k):
            out += [Entry(s, fam, "cmemit", pairs=p) for _, s, p in aln.members()]
    return out


def corpus_to_json(corpus: Corpus) -> str:
    return json.dumps({"config": asdict(corpus.config), "entries": [asdict(e) for e in corpus.entries]})


def corpus_from_json(text: str) -> Corpus:
    d = json.loads(text)
    return Corpus([Entry(**{**e, "pairs": [tuple(p) for p in e["pairs"]] if e["pairs"] is not None else None})
                   for e in d["entries"]], CorpusConfig(**{**LEGACY_CORPUS_DEFAULTS, **d["config"]}))


def load_corpus(cfg: CorpusConfig = CorpusConfig()) -> Corpus:
    """The corpus of ``cfg``, built once and cached under the cache directory by its config."""
    import os
    import tempfile

    from paperlib.data import cache_dir

    path = cache_dir("rnafm", "corpus") / f"corpus-v{cfg.version}-{cfg.key()}.json"
    if path.is_file():
        return corpus_from_json(path.read_text())
    corpus = build_corpus(cfg)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(corpus_to_json(corpus))
    os.replace(tmp, path)
    return corpus
