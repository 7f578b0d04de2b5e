"""RNA input parsing: FASTA (and its bad-input errors), dot-bracket / WUSS with pseudoknots, Stockholm
alignments and the projection of a consensus structure onto one member."""
import pytest

from paperlib.data.rna import (FastaError, pairs_to_dot_bracket, parse_dot_bracket, parse_fasta, parse_stockholm,
                               project_structure)


def test_fasta_reads_records_upper_cases_and_turns_t_into_u():
    recs = parse_fasta(">a first one\nacgt\nNN\n\n>b\nGGU\n")
    assert [(r.name, r.seq, r.description) for r in recs] == [("a", "ACGUNN", "first one"), ("b", "GGU", "")]


@pytest.mark.parametrize("text, message", [
    (">a\nACGZ\n", "not RNA nucleotides"),
    (">a\n>b\nACGU\n", "'a' is empty"),
    (">a\nACGU\n>b\n", "'b' is empty"),
    ("ACGU\n>a\nACGU\n", "before the first '>'"),
    ("", "no FASTA records"),
    (">\nACGU\n", "no name"),
])
def test_bad_fasta_is_a_clear_error(text, message):
    with pytest.raises(FastaError, match=message):
        parse_fasta(text)


def test_dot_bracket_nested_and_all_bracket_types():
    assert parse_dot_bracket("((..))") == [(0, 5), (1, 4)]
    assert parse_dot_bracket("<<__>>::") == [(0, 5), (1, 4)]
    assert parse_dot_bracket("{.}[.]") == [(0, 2), (3, 5)]


def test_dot_bracket_pseudoknots_cross():
    # an H-type pseudoknot written with [] and with Rfam's letters (upper opens, lower closes)
    assert parse_dot_bracket("((..[[..))..]]") == [(0, 9), (1, 8), (4, 13), (5, 12)]
    assert parse_dot_bracket("<<..AA..>>..aa") == [(0, 9), (1, 8), (4, 13), (5, 12)]
    assert pairs_to_dot_bracket([(0, 9), (1, 8), (4, 13), (5, 12)], 14) == "((..[[..))..]]"


@pytest.mark.parametrize("bad", ["(()", "())", "..a", "A.."])
def test_unbalanced_structure_raises(bad):
    with pytest.raises(ValueError, match="unbalanced"):
        parse_dot_bracket(bad)


def test_projection_drops_gap_columns_and_orphaned_pairs():
    # columns:   0123456789
    ss_cons = "<<-<..>->>"
    row = "GC-A..U-GC"   # column 2, 4, 5, 7 are gaps; pair (3, 6) survives as (2, 3)
    seq, pairs = project_structure(row, ss_cons)
    assert seq == "GCAUGC"
    assert pairs == [(0, 5), (1, 4), (2, 3)]
    seq, pairs = project_structure("GC-A..--GC", ss_cons)  # partner of column 3 is a gap: unpaired
    assert seq == "GCAGC" and pairs == [(0, 4), (1, 3)]


def test_stockholm_joins_blocks_and_projects_each_member():
    text = """# STOCKHOLM 1.0
#=GF ID toy
s1 GGA
s2 G-A
#=GC SS_cons <<.
s1 AUCC
s2 AUC-
#=GC SS_cons ..>>
//
"""
    (aln,) = parse_stockholm(text)
    assert aln.id == "toy" and aln.names == ["s1", "s2"] and aln.ss_cons == "<<...>>"
    members = aln.members()
    assert members[0] == ("s1", "GGAAUCC", [(0, 6), (1, 5)])
    assert members[1] == ("s2", "GAAUC", [])  # each pair lost one partner to a gap


def test_unclosed_stockholm_is_an_error():
    with pytest.raises(ValueError, match="not closed"):
        parse_stockholm("# STOCKHOLM 1.0\ns1 ACGU\n")
