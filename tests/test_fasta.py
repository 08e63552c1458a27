"""Alignments: FASTA reading and writing, alphabets, exact DCA sequence weights, clear errors,
training on an alignment with weights; the guide's examples run."""

import gzip
import time

import networkx as nx
import numpy as np
import optax
import pytest
from docs_code import ROOT, run_page

import pcdppl as pp
from pcdppl.data.reweighting import neighbor_counts


def reference_counts(x: np.ndarray, reweight: float) -> np.ndarray:
    """Plain NumPy O(N²): #{m : (1/L) Σ_i [x_ni = x_mi] >= reweight}."""
    identity = (x[:, None, :] == x[None, :, :]).sum(-1) / x.shape[1]
    return (identity >= reweight).sum(1)


def clustered(rng, n: int, length: int, k: int, families: int = 10, mutate: float = 0.15):
    """Sequences mutated from a few ancestors: many pairs near any threshold."""
    ancestors = rng.integers(0, k, (families, length))
    x = ancestors[rng.integers(0, families, n)]
    flip = rng.random((n, length)) < mutate
    return np.where(flip, rng.integers(0, k, (n, length)), x).astype(np.int8)


def write(tmp_path, text: str, name: str = "aln.fasta"):
    p = tmp_path / name
    p.write_text(text)
    return p


# ----------------------------------------------------------------------- weights: exactness
@pytest.mark.parametrize("length", [1, 7, 10, 32, 33, 65, 330])
@pytest.mark.parametrize("k", [2, 5, 21])
def test_weights_exact_against_numpy(length, k):
    rng = np.random.default_rng(length * 100 + k)
    x = clustered(rng, 150, length, k, mutate=0.3)
    x[100:110] = x[0]  # exact duplicates
    thresholds = [1e-9, 0.2, 0.5, 0.7, 0.8, 0.9, 1.0, 1 / 3, 2 / 3]
    thresholds += [c / length for c in range(1, length + 1, max(1, length // 6))]  # exact ties
    for theta in thresholds:
        ref = reference_counts(x, theta)
        for block in (16, 128):  # many tiles (off-diagonal pairs) and one padded tile
            got = neighbor_counts(x, theta, num_states=k, block_size=block)
            np.testing.assert_array_equal(got, ref, err_msg=f"theta={theta}, block={block}")
    w = pp.data.sequence_weights(x, 0.8)
    np.testing.assert_array_equal(w, 1.0 / reference_counts(x, 0.8))


def test_ties_at_the_threshold_count_as_neighbors():
    # identity exactly 0.7 (7 of 10 positions): 0.7 * 10 is 7.000000000000001 in floating
    # point, a threshold computed as ceil(θ·L) would wrongly exclude the pair
    a = np.zeros(10, np.int8)
    b = a.copy()
    b[:3] = 1
    w = pp.data.sequence_weights(np.stack([a, b]), 0.7)
    np.testing.assert_array_equal(w, [0.5, 0.5])
    np.testing.assert_array_equal(pp.data.sequence_weights(np.stack([a, b]), 0.71), [1, 1])


def test_weight_conventions():
    x = np.array([[1, 2, 0, 0], [1, 2, 0, 0], [1, 2, 0, 3], [4, 4, 4, 4]], np.int8)
    np.testing.assert_array_equal(pp.data.sequence_weights(x, None), np.ones(4))
    np.testing.assert_array_equal(pp.data.sequence_weights(x, 1.0), [0.5, 0.5, 1, 1])
    # gap-gap columns are matches: rows 0 and 2 agree on 3 of 4 columns
    np.testing.assert_array_equal(pp.data.sequence_weights(x, 0.75), [1 / 3] * 3 + [1])
    # the strict convention (identity > θ, adabmDCA's) is reweight=np.nextafter(θ, 1)
    y = np.array([[0] * 10, [1, 1] + [0] * 8, [1, 1, 1] + [0] * 7], np.int8)
    np.testing.assert_array_equal(pp.data.sequence_weights(y, 0.8), [1 / 2, 1 / 3, 1 / 2])
    strict = pp.data.sequence_weights(y, np.nextafter(0.8, 1))
    identity = (y[:, None] == y[None]).sum(-1) / 10
    np.testing.assert_array_equal(strict, 1 / (identity > 0.8).sum(1))
    np.testing.assert_array_equal(strict, [1, 1 / 2, 1 / 2])
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match="reweight=None"):
            pp.data.sequence_weights(x, bad)
    with pytest.raises(TypeError):
        pp.data.sequence_weights(x, True)
    with pytest.raises(ValueError, match="states must be in 0..2"):
        pp.data.sequence_weights(x, 0.8, num_states=3)


# ---------------------------------------------------------------------------- reading files
def test_load_protein_alignment(tmp_path):
    p = write(tmp_path, ">seq1 first one\nACDEF\nGHIKLM\n\n>seq2\nacdef-ghikl\n>seq3\n"
                        "MNPQR.STVWY\n")
    aln = pp.data.load_fasta(p, reweight=0.8)
    assert aln.sequences.dtype == np.int8 and aln.sequences.shape == (3, 11)
    assert aln.alphabet == "-ACDEFGHIKLMNPQRSTVWY" == pp.data.ALPHABETS["protein"]
    assert aln.num_states == 21 and aln.num_sequences == 3 and aln.length == 11
    assert aln.names == ("seq1 first one", "seq2", "seq3")
    # wrapped lines are joined; lowercase reads as uppercase; '.' is the gap
    decoded = ["".join(aln.alphabet[s] for s in row) for row in aln.sequences]
    assert decoded == ["ACDEFGHIKLM", "ACDEF-GHIKL", "MNPQR-STVWY"]
    np.testing.assert_array_equal(aln.sequences[0], np.arange(1, 12))
    assert aln.weights.dtype == np.float64
    assert aln.effective_number == pytest.approx(aln.weights.sum())
    assert aln.reweight == 0.8
    assert "3 sequences × 11 columns" in repr(aln)


@pytest.mark.parametrize("alphabet,text,expected", [
    ("rna", ">a\nACGU-\n>b\nacgu.\n", [[1, 2, 3, 4, 0], [1, 2, 3, 4, 0]]),
    ("dna", ">a\nACGTN\n>b\nRYacg\n", [[1, 2, 3, 4, 0], [0, 0, 1, 2, 3]]),
    ("ACDEFGHIKLMNPQRSTVWY-", ">a\nA-Y\n>b\naXc\n", [[0, 20, 19], [0, 20, 1]]),
    (["0", "1"], ">a\n0110\n>b\n1111\n", [[0, 1, 1, 0], [1, 1, 1, 1]]),
    ("-ab", ">a\nab-\n>b\nba.\n", [[1, 2, 0], [2, 1, 0]]),
])
def test_alphabets(tmp_path, alphabet, text, expected):
    aln = pp.data.load_fasta(write(tmp_path, text), alphabet=alphabet, reweight=None)
    np.testing.assert_array_equal(aln.sequences, expected)
    np.testing.assert_array_equal(aln.weights, [1.0, 1.0])


def test_ambiguous_letters_gap_or_error(tmp_path):
    p = write(tmp_path, ">a\nAXBZJUOC\n>b\nACDEFGHI\n")
    aln = pp.data.load_fasta(p)
    np.testing.assert_array_equal(aln.sequences[0], [1, 0, 0, 0, 0, 0, 0, 2])
    with pytest.raises(ValueError, match=r"sequence 'a' \(line 1\), position 2: ambiguous "
                                         r"letter 'X'; pass unknown='gap'"):
        pp.data.load_fasta(p, unknown="error")
    with pytest.raises(ValueError, match="unknown must be"):
        pp.data.load_fasta(p, unknown="skip")


def test_a2m_insertions_drop(tmp_path):
    p = write(tmp_path, ">query\nAC-DE\n>hit1\nAcxC..DE-\n>hit2\nAaaCDE-\n")
    with pytest.raises(ValueError, match="insertions='drop'"):
        pp.data.load_fasta(p)
    aln = pp.data.load_fasta(p, insertions="drop", unknown="error", reweight=None)
    np.testing.assert_array_equal(aln.sequences, [[1, 2, 0, 3, 4], [1, 2, 3, 4, 0],
                                                  [1, 2, 3, 4, 0]])


def test_gzip_and_comment_lines(tmp_path):
    p = tmp_path / "aln.fa.gz"
    p.write_bytes(gzip.compress(b"#A3M#\n>a\nACGU\n>b\nAC-U\n"))
    aln = pp.data.load_fasta(p, alphabet="rna", reweight=0.75)
    np.testing.assert_array_equal(aln.weights, [0.5, 0.5])
    assert aln.effective_number == 1.0


# ------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("text,message", [
    (">s1\nACDE\n>s2\nACD\n>s3\nAC\n", r"not an alignment: sequence 's2' \(line 3\) has 3 "
                                      r"columns, the first sequence 's1' has 4"),
    (">s1\nACDE\n>s2\nAC*E\n", r"sequence 's2' \(line 3\), position 3: '\*' is not in the "
                              r"protein alphabet"),
    (">s1\nAC\nD1\n", r"sequence 's1' \(line 1\), position 4: '1' is not in"),
    (">s1\nACDé\n", r"position 4: 'é' is not in"),
    ("", "empty file"),
    ("\n  \n", "empty file"),
    ("#just a comment\n", "no sequences"),
    ("ACDE\n>s1\nACDE\n", r"not a FASTA file: line 1 should start with '>' \(found 'ACDE'\)"),
    ("# STOCKHOLM 1.0\ns1 ACDE\n//\n", "a Stockholm file, not FASTA"),
    (">s1\n>s2\nACDE\n", r"sequence 's1' \(line 1\) is empty"),
    (">s1\nACDE\n>s2\n", r"sequence 's2' \(line 3\) is empty"),
])
def test_clear_errors(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as err:
        pp.data.load_fasta(p)
    assert str(p) in str(err.value)


def test_errors_files_and_hints(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such alignment file"):
        pp.data.load_fasta(tmp_path / "missing.fasta")
    (tmp_path / "bin.fasta").write_bytes(b"\x89PNG\r\n\x1a\n\xff\x00")
    with pytest.raises(ValueError, match="not a FASTA file .binary content"):
        pp.data.load_fasta(tmp_path / "bin.fasta")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b">a\nACDE\n")[:-6])
    with pytest.raises(ValueError, match="damaged or truncated gzip"):
        pp.data.load_fasta(tmp_path / "bad.gz")
    dna = write(tmp_path, ">a\nACGT\n")
    with pytest.raises(ValueError, match="'T' is not in the rna alphabet '-ACGU'; a DNA file"):
        pp.data.load_fasta(dna, alphabet="rna")
    with pytest.raises(ValueError, match="a protein alignment"):
        pp.data.load_fasta(write(tmp_path, ">a\nMKLV\n"), alphabet="dna")
    for bad, message in [("AA", "twice"), (["A", "BC"], "single printable"), ("A", "2 to 127"),
                         (3, "alphabet must be")]:
        with pytest.raises((ValueError, TypeError), match=message):
            pp.data.load_fasta(dna, alphabet=bad)
    with pytest.raises(ValueError, match="insertions must be"):
        pp.data.load_fasta(dna, insertions="remove")


# --------------------------------------------------------------------------------- writing
def test_write_read_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 21, (40, 75)).astype(np.int8)
    names = [f"sample {i}" for i in range(40)]
    p = pp.data.write_fasta(tmp_path / "s.fasta", x, alphabet="protein", names=names,
                            line_width=60)
    aln = pp.data.load_fasta(p, reweight=None, unknown="error")
    np.testing.assert_array_equal(aln.sequences, x)
    assert list(aln.names) == names
    assert max(len(line) for line in p.read_text().splitlines()) == 60
    # an Alignment keeps its alphabet and names; .gz is compressed; (chain, draw, L) samples
    again = pp.data.load_fasta(pp.data.write_fasta(tmp_path / "a.fa.gz", aln), reweight=None)
    np.testing.assert_array_equal(again.sequences, x)
    assert again.names == aln.names
    draws = rng.integers(0, 5, (2, 3, 8))
    p = pp.data.write_fasta(tmp_path / "d.fasta", draws, alphabet="rna")
    back = pp.data.load_fasta(p, alphabet="rna", reweight=None)
    np.testing.assert_array_equal(back.sequences, draws.reshape(6, 8))
    assert back.names[0] == "sequence_0"
    custom = pp.data.write_fasta(tmp_path / "c.fasta", [[0, 1, 2]], alphabet="xyz")
    assert custom.read_text() == ">sequence_0\nxyz\n"


def test_write_errors(tmp_path):
    with pytest.raises(ValueError, match=r"states must be in 0..4; found 5 at sequence 1, "
                                         r"position 0"):
        pp.data.write_fasta(tmp_path / "x.fa", [[0, 1], [5, 0]], alphabet="dna")
    with pytest.raises(TypeError, match="integer array"):
        pp.data.write_fasta(tmp_path / "x.fa", [[0.5, 1.0]])
    with pytest.raises(ValueError, match="2 names for 1 sequences"):
        pp.data.write_fasta(tmp_path / "x.fa", [[0, 1]], names=["a", "b"])
    with pytest.raises(ValueError, match="one line"):
        pp.data.write_fasta(tmp_path / "x.fa", [[0, 1]], names=["a\nb"])


# ------------------------------------------------------------------------- training on it
def test_alignment_trains_a_potts_model_with_weights(tmp_path):
    rng = np.random.default_rng(1)
    x = clustered(rng, 60, 6, 21, families=3, mutate=0.2)
    aln = pp.data.load_fasta(pp.data.write_fasta(tmp_path / "a.fasta", x), reweight=0.8)
    assert aln.effective_number < 60  # clusters share weight
    model = pp.models.potts(nx.complete_graph(aln.length), k=aln.num_states)
    learner = pp.PCD(model, num_chains=16, batch_size=10, optimizer=optax.sgd(0.05))
    fit = learner.fit(aln.sequences, 2, weights=aln.weights, progress=False,
                      mixing_warnings=False)
    assert all(np.isfinite(np.asarray(v)).all() for v in fit.params.values())
    # a DCA-style model from the DSL: fields (L, k) and one k × k table per pair
    fg = pp.FactorGraph()
    v = fg.categorical("v", aln.length, aln.num_states)
    fg.bias(v, name="h")
    pairs = np.array([(i, j) for i in range(aln.length) for j in range(i + 1, aln.length)])
    fg.table([v, v], pairs, name="J")
    dca = fg.compile()
    fit = pp.PCD(dca, num_chains=16, batch_size=10, optimizer=optax.sgd(0.05)).fit(
        {"v": aln.sequences}, 2, weights=aln.weights, progress=False, mixing_warnings=False)
    assert fit.params["J"].shape == (len(pairs), 21, 21)


# --------------------------------------------------------------------------------- timing
@pytest.mark.slow
def test_weights_50000_by_300_finishes(record_property, capsys):
    rng = np.random.default_rng(0)
    x = clustered(rng, 50_000, 300, 21, families=2000, mutate=0.1)
    start = time.perf_counter()
    w = pp.data.sequence_weights(x, 0.8)
    seconds = time.perf_counter() - start
    record_property("seconds_50000x300", seconds)
    with capsys.disabled():
        print(f"\nsequence_weights 50,000 x 300: {seconds:.1f} s, M_eff = {w.sum():.0f}")
    assert w.shape == (50_000,) and 0 < w.min() and w.max() <= 1
    rows = rng.choice(50_000, 40, replace=False)  # spot-check rows against NumPy
    identity = (x[rows][:, None, :] == x[None, :, :]).sum(-1) / 300
    np.testing.assert_array_equal(w[rows], 1.0 / (identity >= 0.8).sum(1))


def test_guide_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run_page(ROOT / "docs" / "guide" / "data.md")
    assert isinstance(ns["aln"], pp.data.Alignment)
