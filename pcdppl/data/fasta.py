"""Multiple sequence alignments in FASTA format: reading, reweighting, writing.

:func:`load_fasta` reads an aligned FASTA file (plain or gzip-compressed) into an
:class:`Alignment`: an ``int8 (N, L)`` array of states, usable as training data for a model
with a categorical group of ``len(alphabet)`` states, and DCA sequence weights.
:func:`write_fasta` writes samples back.

Alphabets (state ``i`` is the ``i``-th token; the gap is state 0 in all three):

* ``"protein"``: ``-ACDEFGHIKLMNPQRSTVWY`` (21 states, the order of plmDCA, bmDCA and
  EVcouplings); ambiguous residues ``B J O U X Z``;
* ``"rna"``: ``-ACGU``; ``"dna"``: ``-ACGT``; ambiguous nucleotides: the IUPAC codes
  ``N R Y S W K M B D H V``;
* a custom alphabet: a string or sequence of single-character tokens, e.g.
  ``"ACDEFGHIKLMNPQRSTVWY-"`` for the gap-last order of ArDCA and ``rbms``.

Lowercase letters read as their uppercase residue and ``.`` as the gap ``-`` (unless the
alphabet has lowercase tokens or a ``.`` of its own); with ``insertions="drop"`` lowercase
letters and ``.`` are A2M/A3M insertions and are removed instead.
"""

from __future__ import annotations

import gzip
import os
import string
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .files import read_bytes
from .reweighting import check_reweight, check_sequences, neighbor_counts

ALPHABETS = {"protein": "-ACDEFGHIKLMNPQRSTVWY", "rna": "-ACGU", "dna": "-ACGT"}
AMBIGUOUS = {"protein": "BJOUXZ", "rna": "NRYSWKMBDHV", "dna": "NRYSWKMBDHV"}
GAP = "-"


class Alignment(NamedTuple):
    """A multiple sequence alignment as states, with sequence weights.

    Attributes:
        sequences: ``int8 (N, L)``, state ``alphabet[s]`` at each position; pass it as
            ``data`` to a model with a categorical group of ``len(alphabet)`` states.
        weights: ``float64 (N,)``, ``1 / #{m : identity(n, m) ≥ reweight}`` (all ones when
            ``reweight`` is ``None``); pass it as ``fit(..., weights=)``.
        alphabet: the tokens, one character per state.
        names: the header line of each sequence (without ``>``).
        effective_number: ``M_eff = Σ_n w_n``.
        reweight: the identity threshold used, or ``None``.
    """

    sequences: np.ndarray
    weights: np.ndarray
    alphabet: str
    names: tuple[str, ...]
    effective_number: float
    reweight: float | None

    @property
    def num_sequences(self) -> int:
        return int(self.sequences.shape[0])

    @property
    def length(self) -> int:
        """The number of aligned columns ``L``."""
        return int(self.sequences.shape[1])

    @property
    def num_states(self) -> int:
        """``k = len(alphabet)``: the ``k`` of ``fg.categorical(name, L, k)``."""
        return len(self.alphabet)

    def __repr__(self) -> str:
        return (f"Alignment({self.num_sequences} sequences × {self.length} columns, "
                f"alphabet={self.alphabet!r}, effective_number={self.effective_number:.1f}, "
                f"reweight={self.reweight})")


class Coding(NamedTuple):
    """How characters of a file map to states: ``lookup[byte]`` is a state, -1 (not in the
    alphabet) or -2 (an ambiguous letter read as an error)."""

    tokens: str
    name: str
    lookup: np.ndarray
    insertions: str  # characters removed with insertions="drop"


def resolve_alphabet(alphabet) -> tuple[str, str]:
    """``(tokens, name)`` of a built-in alphabet name or a custom string/sequence of tokens."""
    if isinstance(alphabet, str) and alphabet in ALPHABETS:
        return ALPHABETS[alphabet], alphabet
    if isinstance(alphabet, str):
        tokens = list(alphabet)
    elif isinstance(alphabet, Sequence) and all(isinstance(t, str) for t in alphabet):
        tokens = list(alphabet)
    else:
        raise TypeError(f"alphabet must be 'protein', 'rna', 'dna' or a string/sequence of "
                        f"single-character tokens, got {alphabet!r}")
    for t in tokens:
        if len(t) != 1 or not t.isascii() or not t.isprintable() or t.isspace() or t in ">;":
            raise ValueError(f"alphabet tokens must be single printable ASCII characters other "
                             f"than whitespace, '>' and ';'; got {t!r}")
    if len(set(tokens)) != len(tokens):
        dup = next(t for t in tokens if tokens.count(t) > 1)
        raise ValueError(f"alphabet has the token {dup!r} twice")
    if not 2 <= len(tokens) <= 127:
        raise ValueError(f"an alphabet has 2 to 127 tokens, got {len(tokens)}")
    return "".join(tokens), "custom"


def coding(alphabet, unknown: str = "gap") -> Coding:
    """The character → state table of ``alphabet`` (see the module notes)."""
    if unknown not in ("gap", "error"):
        raise ValueError(f"unknown must be 'gap' or 'error', got {unknown!r}")
    tokens, name = resolve_alphabet(alphabet)
    fold = not any(t.islower() for t in tokens)
    lookup = np.full(256, -1, np.int16)
    for i, t in enumerate(tokens):
        lookup[ord(t)] = i
        if fold and t.isupper():
            lookup[ord(t.lower())] = i
    gap = tokens.find(GAP)
    if gap >= 0 and "." not in tokens:
        lookup[ord(".")] = gap
    if name in AMBIGUOUS:
        ambiguous = AMBIGUOUS[name]
    else:
        ambiguous = "" if gap < 0 else "".join(
            c for c in string.ascii_uppercase if lookup[ord(c)] < 0)
    for c in ambiguous + (ambiguous.lower() if fold else ""):
        lookup[ord(c)] = gap if unknown == "gap" else -2
    insertions = (string.ascii_lowercase if fold else "") + ("." if "." not in tokens else "")
    return Coding(tokens, name, lookup, insertions)


def read_text(path) -> str:
    """The text of a (possibly gzip-compressed) file; clear errors for missing, binary or
    damaged files."""
    p = Path(os.fspath(path))
    raw = read_bytes(p, "alignment file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{p}: not a FASTA file (binary content: undecodable byte at offset "
                         f"{err.start})") from None
    if "\x00" in text:
        raise ValueError(f"{p}: not a FASTA file (binary content: a NUL byte at offset "
                         f"{text.index(chr(0))})")
    return text


def parse_records(text: str, what: str) -> tuple[list[str], list[str], list[int]]:
    """``(names, sequences, header_lines)`` of FASTA text; whitespace inside sequences is
    dropped; comment lines starting with ``#`` or ``;`` before the first record (as in
    A3M files) are skipped."""
    if not text.strip():
        raise ValueError(f"{what}: empty file")
    names: list[str] = []
    chunks: list[list[str]] = []
    lines: list[int] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s[0] == ">":
            names.append(s[1:].strip())
            chunks.append([])
            lines.append(lineno)
        elif chunks:
            chunks[-1].append(s)
        elif s.startswith("# STOCKHOLM"):
            raise ValueError(f"{what}: a Stockholm file, not FASTA; convert it to aligned "
                             f"FASTA first (e.g. esl-reformat afa {Path(what).name})")
        elif s[0] not in "#;":
            raise ValueError(f"{what}: not a FASTA file: line {lineno} should start with '>' "
                             f"(found {s[:40]!r})")
    if not names:
        raise ValueError(f"{what}: no sequences (no line starts with '>')")
    seqs = ["".join("".join(c).split()) for c in chunks]
    for name, seq, lineno in zip(names, seqs, lines, strict=True):
        if not seq:
            raise ValueError(f"{what}: sequence {name!r} (line {lineno}) is empty")
    return names, seqs, lines


def check_characters(seqs: list[str], names, lines, code: Coding, what: str, *,
                     drop: bool = False) -> None:
    """Raise naming the sequence, position and character of the first character that is
    not in the alphabet (or an ambiguous one, with ``unknown="error"``); with ``drop``,
    insertion characters are allowed."""
    joined = "".join(seqs)
    lookup = code.lookup.copy()
    if drop:
        lookup[np.frombuffer(code.insertions.encode("ascii"), np.uint8)] = 0
    if joined.isascii():
        bad = np.flatnonzero(lookup[np.frombuffer(joined.encode("ascii"), np.uint8)] < 0)
    else:
        bad = np.array([i for i, c in enumerate(joined) if not c.isascii() or lookup[ord(c)] < 0])
    if bad.size == 0:
        return
    first = int(bad[0])
    ends = np.cumsum([len(s) for s in seqs])
    r = int(np.searchsorted(ends, first, side="right"))
    pos = first - (int(ends[r - 1]) if r else 0)
    char = seqs[r][pos]
    where = f"{what}: sequence {names[r]!r} (line {lines[r]}), position {pos + 1}"
    label = f"the {code.name} alphabet" if code.name != "custom" else "the alphabet"
    if char.isascii() and lookup[ord(char)] == -2:
        which = " ".join(AMBIGUOUS.get(code.name, "")) or "any letter not in the alphabet"
        raise ValueError(f"{where}: ambiguous letter {char!r}; pass unknown='gap' to read "
                         f"ambiguous letters ({which}) as the gap '-'")
    hint = ""
    if code.name == "rna" and char in "Tt":
        hint = "; a DNA file? use alphabet='dna'"
    elif code.name == "dna" and char in "Uu":
        hint = "; an RNA file? use alphabet='rna'"
    elif code.name in ("rna", "dna") and char.upper() in ALPHABETS["protein"]:
        hint = "; a protein alignment? use alphabet='protein'"
    raise ValueError(f"{where}: {char!r} is not in {label} {code.tokens!r}{hint}")


def load_fasta(path, alphabet="protein", reweight: float | None = 0.8, *, unknown: str = "gap",
               insertions: str = "keep") -> Alignment:
    """Read an aligned FASTA file as an :class:`Alignment` of states and sequence weights.

    Args:
        path: a FASTA file (``.gz`` compressed or not): records ``>name`` followed by
            sequence lines, all sequences of the same length ``L``.
        alphabet: ``"protein"`` (``-ACDEFGHIKLMNPQRSTVWY``), ``"rna"`` (``-ACGU``),
            ``"dna"`` (``-ACGT``) or a custom string/sequence of single-character tokens;
            state ``i`` is token ``i``.
        reweight: identity threshold ``θ`` of the weights
            ``w_n = 1 / #{m : identity(n, m) ≥ θ}`` (see :func:`sequence_weights`);
            ``None``: all weights 1.
        unknown: ``"gap"``: ambiguous letters (protein ``B J O U X Z``, nucleotide IUPAC
            codes ``N R Y S W K M B D H V``; for a custom alphabet with ``-``, any letter
            not in it) are read as the gap; ``"error"``: they are an error. Other characters
            not in the alphabet (digits, ``*``, ...) are always an error.
        insertions: ``"keep"``: lowercase letters are their uppercase residues and ``.`` is
            a gap (aligned FASTA, e.g. Pfam's, where every row has every column);
            ``"drop"``: lowercase letters and ``.`` are insertions (A2M/A3M, e.g. HHblits or
            jackhmmer output) and are removed, keeping the match columns.

    Returns:
        an :class:`Alignment`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, no sequences, non-FASTA content, an empty sequence, a
            character not in the alphabet (naming the sequence, its line, the position and
            the character) or sequences of different lengths (naming the first one whose
            length differs from the first sequence's).
    """
    what = os.fspath(path)
    code = coding(alphabet, unknown)
    if insertions not in ("keep", "drop"):
        raise ValueError(f"insertions must be 'keep' or 'drop', got {insertions!r}")
    threshold = check_reweight(reweight)
    names, seqs, lines = parse_records(read_text(path), what)
    check_characters(seqs, names, lines, code, what, drop=insertions == "drop")
    if insertions == "drop":
        table = str.maketrans("", "", code.insertions)
        seqs = [s.translate(table) for s in seqs]
    length = len(seqs[0])
    if length == 0:
        raise ValueError(f"{what}: sequence {names[0]!r} has no match columns once "
                         f"insertions (lowercase letters and '.') are dropped")
    for name, seq, lineno in zip(names, seqs, lines, strict=True):
        if len(seq) != length:
            kind = "match columns" if insertions == "drop" else "columns"
            hint = ""
            if insertions == "keep" and any(c.islower() or c == "." for c in "".join(seqs)):
                hint = ("; lowercase letters and '.' suggest A2M/A3M insertions: pass "
                        "insertions='drop'")
            raise ValueError(f"{what}: not an alignment: sequence {name!r} (line {lineno}) "
                             f"has {len(seq)} {kind}, the first sequence {names[0]!r} has "
                             f"{length}{hint}")
    flat = np.frombuffer("".join(seqs).encode("ascii"), np.uint8)
    x = code.lookup[flat].astype(np.int8).reshape(len(seqs), length)
    counts = neighbor_counts(x, threshold, num_states=len(code.tokens))
    weights = 1.0 / counts
    return Alignment(x, weights, code.tokens, tuple(names), float(weights.sum()), threshold)


def write_fasta(path, sequences, alphabet=None, names=None, *, line_width: int | None = None
                ) -> Path:
    """Write sequences of states as a FASTA file (gzip-compressed if ``path`` ends in
    ``.gz``).

    Args:
        path: the file to write (overwritten).
        sequences: integer array ``(..., L)`` of states in ``{0..len(alphabet)-1}`` (leading
            axes, e.g. ``(chain, draw, L)`` samples, are flattened), or an
            :class:`Alignment`.
        alphabet: as in :func:`load_fasta`; default: the alignment's own, else
            ``"protein"``.
        names: one header per sequence (default ``sequence_0``, ``sequence_1``, ...; an
            alignment's own names).
        line_width: wrap sequences at this many characters (default: one line each).

    Returns:
        the path written.
    """
    if isinstance(sequences, Alignment):
        alphabet = sequences.alphabet if alphabet is None else alphabet
        names = sequences.names if names is None else names
        sequences = sequences.sequences
    tokens, _ = resolve_alphabet("protein" if alphabet is None else alphabet)
    a = np.asarray(sequences)
    if a.ndim == 1:
        a = a[None, :]
    elif a.ndim > 2:
        a = a.reshape(-1, a.shape[-1])
    x = check_sequences(a, len(tokens), what="write_fasta")
    n = x.shape[0]
    names = [f"sequence_{i}" for i in range(n)] if names is None else [str(s) for s in names]
    if len(names) != n:
        raise ValueError(f"write_fasta: {len(names)} names for {n} sequences")
    for s in names:
        if "\n" in s or "\r" in s:
            raise ValueError(f"write_fasta: a name must be one line, got {s!r}")
    if line_width is not None and (not isinstance(line_width, (int, np.integer))
                                   or line_width < 1):
        raise ValueError(f"line_width must be None or a positive int, got {line_width!r}")
    chars = np.frombuffer(tokens.encode("ascii"), np.uint8)[x]
    out = []
    for name, row in zip(names, chars, strict=True):
        seq = row.tobytes().decode("ascii")
        if line_width is not None:
            seq = "\n".join(seq[i:i + line_width] for i in range(0, len(seq), line_width))
        out.append(f">{name}\n{seq}\n")
    p = Path(os.fspath(path))
    data = "".join(out).encode("utf-8")
    p.write_bytes(gzip.compress(data) if p.suffix == ".gz" else data)
    return p
