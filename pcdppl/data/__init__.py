"""Datasets and loaders: scikit-learn's digits, ``.npz`` files, binarisation, validation;
sequence alignments (FASTA) with DCA sequence weights."""

from .fasta import ALPHABETS, Alignment, load_fasta, write_fasta
from .loaders import (
    Dataset,
    binarize,
    load,
    load_digits,
    load_idx,
    load_mnist,
    load_mnist_5k,
    load_npy,
    load_npz,
    split,
    validate,
)
from .reweighting import sequence_weights

__all__ = ["Dataset", "binarize", "load_digits", "load_npz", "validate", "load_mnist_5k",
           "load_mnist", "load_idx", "load_npy", "load", "split", "Alignment", "ALPHABETS",
           "load_fasta", "write_fasta", "sequence_weights"]
