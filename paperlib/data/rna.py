"""RNA sequences and structures: FASTA, Stockholm alignments, dot-bracket / WUSS structures, Infernal.

Sources (the FASTA files are in the repository's data/rna-fm-tutorial/):

* ``rna-fm-tutorial`` under the data directory: FASTA from the RNA-FM repository's tutorial (5S
  rRNA, tRNA, RNase P, a 1,400-sequence RNAcentral sample whose headers carry the RNA type).
* Debian ``infernal``: Rfam-style Stockholm seed alignments with a ``#=GC SS_cons`` consensus
  structure, covariance models (``*.cm``), and ``cmemit`` to sample family members from a model.

Structures are sets of base pairs ``(i, j)``, 0-based, ``i < j``. The consensus structure of an
alignment is projected onto one member by dropping the columns where that member has a gap; a pair
whose partner column is a gap in that member becomes unpaired (how Rfam and RNA-FM's data pipeline
derive per-sequence structures from seed alignments).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import MissingDataError, data_dir

#: letters a sequence may hold after upper-casing and T->U: the four bases and the IUPAC codes
#: RNA-FM's vocabulary carries (R Y K M S W B D H V N) and the gap ``-``.
RNA_LETTERS = frozenset("ACGURYKMSWBDHVN-")
GAP_CHARS = frozenset(".-~_")
INFERNAL_TESTSUITE = Path("/usr/share/doc/infernal/examples/testsuite")
INFERNAL_HINT = ("install Infernal: `apt-get install -y infernal` (Debian/Ubuntu, as root; scripts/setup.sh "
                 "does it) or `conda install -c bioconda infernal`")


class FastaError(ValueError):
    """A FASTA file paperlib cannot use; the message names the record and what to fix."""


@dataclass
class Record:
    name: str
    seq: str
    description: str = ""


def clean_rna(seq: str, name: str = "?") -> str:
    """Upper-case, T->U, whitespace removed; FastaError on any letter outside :data:`RNA_LETTERS`."""
    s = "".join(seq.split()).upper().replace("T", "U")
    bad = sorted(set(s) - RNA_LETTERS)
    if bad:
        raise FastaError(f"record {name!r} holds letters that are not RNA nucleotides or IUPAC codes: "
                         f"{''.join(bad)!r}; allowed: {''.join(sorted(RNA_LETTERS))} (T is read as U)")
    return s


def parse_fasta(text: str, source: str = "<text>") -> list[Record]:
    """Records of a FASTA text; FastaError on text before the first header, an empty record or bad letters."""
    records: list[Record] = []
    name = desc = None
    chunks: list[str] = []

    def flush():
        if name is None:
            return
        if not "".join(chunks).strip():
            raise FastaError(f"{source}: record {name!r} is empty (a header with no sequence); remove it")
        records.append(Record(name, clean_rna("".join(chunks), name), desc or ""))

    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(">"):
            flush()
            head = line[1:].strip()
            if not head:
                raise FastaError(f"{source}:{lineno}: a header with no name; write '>name description'")
            name, _, desc = head.partition(" ")
            chunks = []
        else:
            if name is None:
                raise FastaError(f"{source}:{lineno}: sequence text before the first '>' header; "
                                 "is this a FASTA file?")
            chunks.append(line)
    flush()
    if not records:
        raise FastaError(f"{source}: no FASTA records found")
    return records


def read_fasta(path) -> list[Record]:
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"no FASTA file at {path}")
    return parse_fasta(path.read_text(), str(path))


# ---------------------------------------------------------------- structures

_OPEN = {"(": ")", "[": "]", "{": "}", "<": ">"}
_CLOSE = {v: k for k, v in _OPEN.items()}


def parse_dot_bracket(structure: str) -> list[tuple[int, int]]:
    """Base pairs of a dot-bracket / WUSS string, sorted.

    Pairs: ``()``, ``[]``, ``{}``, ``<>``, and pseudoknot letters (upper-case opens, the same
    letter lower-case closes, as in Rfam's SS_cons). Every other character is unpaired. Each
    bracket type is its own stack, so crossing (pseudoknotted) pairs are kept.
    """
    stacks: dict[str, list[int]] = {}
    pairs = []
    for i, c in enumerate(structure):
        if c in _OPEN:
            stacks.setdefault(c, []).append(i)
        elif c in _CLOSE or (c.isalpha() and c.islower()):
            key = _CLOSE.get(c, c.upper())
            if not stacks.get(key):
                raise ValueError(f"unbalanced structure: {c!r} at position {i} closes nothing")
            pairs.append((stacks[key].pop(), i))
        elif c.isalpha() and c.isupper():
            stacks.setdefault(c, []).append(i)
    left = {k: v for k, v in stacks.items() if v}
    if left:
        k, v = next(iter(left.items()))
        raise ValueError(f"unbalanced structure: {k!r} at position {v[-1]} is never closed")
    return sorted(pairs)


def pairs_to_dot_bracket(pairs, length: int) -> str:
    """Dot-bracket of non-crossing pairs with ``()``, crossing ones with ``[]`` then ``{}``, ``<>``."""
    out = ["."] * length
    levels: list[list[tuple[int, int]]] = []
    for i, j in sorted(pairs):
        for level in levels:
            if all(not (a < i < b < j or i < a < j < b) for a, b in level):
                level.append((i, j))
                break
        else:
            levels.append([(i, j)])
    for level, (o, c) in zip(levels, ["()", "[]", "{}", "<>"]):
        for i, j in level:
            out[i], out[j] = o, c
    return "".join(out)


def project_structure(aligned: str, ss_cons: str) -> tuple[str, list[tuple[int, int]]]:
    """The ungapped sequence of one alignment row and the consensus pairs that survive in it."""
    if len(aligned) != len(ss_cons):
        raise ValueError(f"row length {len(aligned)} != SS_cons length {len(ss_cons)}")
    keep = [k for k, c in enumerate(aligned) if c not in GAP_CHARS]
    where = {col: n for n, col in enumerate(keep)}
    pairs = [(where[i], where[j]) for i, j in parse_dot_bracket(ss_cons) if i in where and j in where]
    return "".join(aligned[k] for k in keep), pairs


@dataclass
class Alignment:
    id: str
    names: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    ss_cons: str = ""

    def members(self) -> list[tuple[str, str, list[tuple[int, int]]]]:
        """(name, sequence, projected pairs) of each row; sequences cleaned as FASTA sequences are."""
        out = []
        for name, row in zip(self.names, self.rows):
            seq, pairs = project_structure(row, self.ss_cons) if self.ss_cons else (
                "".join(c for c in row if c not in GAP_CHARS), [])
            # seed alignments occasionally write an unknown residue as X: read it as N (any base)
            out.append((name, clean_rna(seq.upper().replace("X", "N"), name), pairs))
        return out


def parse_stockholm(text: str, source: str = "<text>") -> list[Alignment]:
    """Every alignment in a Stockholm text (multi-block rows are joined)."""
    alignments: list[Alignment] = []
    rows: dict[str, str] = {}
    cur: Alignment | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("# STOCKHOLM"):
            cur, rows = Alignment(id=f"{Path(source).stem}-{len(alignments)}"), {}
            continue
        if cur is None or not line.strip():
            continue
        if line.startswith("//"):
            cur.names, cur.rows = list(rows), list(rows.values())
            if cur.ss_cons and any(len(r) != len(cur.ss_cons) for r in cur.rows):
                raise ValueError(f"{source}: alignment {cur.id} has rows of another length than SS_cons")
            alignments.append(cur)
            cur = None
        elif line.startswith("#=GF ID"):
            cur.id = line.split(None, 2)[2].strip()
        elif line.startswith("#=GC SS_cons"):
            cur.ss_cons += line.split(None, 2)[2].strip()
        elif line.startswith("#"):
            continue
        else:
            parts = line.split()
            if len(parts) != 2:
                raise ValueError(f"{source}:{lineno}: expected 'name aligned-sequence', got {line[:60]!r}")
            rows[parts[0]] = rows.get(parts[0], "") + parts[1]
    if cur is not None:
        raise ValueError(f"{source}: the last alignment is not closed by '//'")
    return alignments


def read_stockholm(path) -> list[Alignment]:
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"no Stockholm file at {path}; {INFERNAL_HINT}")
    return parse_stockholm(path.read_text(), str(path))


# ---------------------------------------------------------------- sources

def tutorial_dir() -> Path:
    d = data_dir() / "rna-fm-tutorial"
    if not (d / "RF00001.fasta").is_file():
        raise MissingDataError(f"RNA-FM tutorial data not found in {d}: copy ml4bio/RNA-FM's "
                               "tutorials/tutorial_data/*.fasta there, or set PAPERLIB_DATA_DIR")
    return d


def infernal_file(name: str) -> Path:
    path = INFERNAL_TESTSUITE / name
    if not path.is_file():
        raise MissingDataError(f"{path} is missing; {INFERNAL_HINT}")
    return path


def cmemit_built(sto_file: str, n: int, seed: int) -> list[Alignment]:
    """``n`` members sampled from a covariance model that ``cmbuild`` builds from each seed alignment
    in an Infernal Stockholm file (for families the test suite ships as seeds only). ``cmbuild`` is
    deterministic for a given alignment; no calibration (``cmemit`` does not need one)."""
    exe = shutil.which("cmbuild")
    if exe is None:
        raise MissingDataError(f"cmbuild not found on PATH; {INFERNAL_HINT}")
    path = infernal_file(sto_file)
    with tempfile.TemporaryDirectory() as tmp:
        cm = Path(tmp) / "built.cm"
        subprocess.run([exe, "-F", str(cm), str(path)], check=True, capture_output=True, text=True)
        out = subprocess.run([shutil.which("cmemit") or "cmemit", "-a", "-N", str(n), "--seed", str(seed), str(cm)],
                             check=True, capture_output=True, text=True).stdout
    return parse_stockholm(out, sto_file)


def cmemit(cm_file: str, n: int, seed: int) -> list[Alignment]:
    """``n`` members sampled from each model in an Infernal covariance-model file, as alignments with
    the model's consensus structure (``cmemit -a``). Old v1.0 files are converted with ``cmconvert``."""
    exe = shutil.which("cmemit")
    if exe is None:
        raise MissingDataError(f"cmemit not found on PATH; {INFERNAL_HINT}")
    path = infernal_file(cm_file)
    with tempfile.TemporaryDirectory() as tmp:
        if path.read_text(errors="ignore").startswith("INFERNAL-1 "):  # the v1.0 format
            conv = Path(tmp) / "converted.cm"
            conv.write_text(subprocess.run([shutil.which("cmconvert") or "cmconvert", str(path)], check=True,
                                           capture_output=True, text=True).stdout)
            path = conv
        out = subprocess.run([exe, "-a", "-N", str(n), "--seed", str(seed), str(path)], check=True,
                             capture_output=True, text=True).stdout
    return parse_stockholm(out, cm_file)
