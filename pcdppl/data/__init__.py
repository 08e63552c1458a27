"""Datasets and loaders: scikit-learn's digits, ``.npz`` files, binarisation, validation."""

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

__all__ = ["Dataset", "binarize", "load_digits", "load_npz", "validate", "load_mnist_5k",
           "load_mnist", "load_idx", "load_npy", "load", "split"]
