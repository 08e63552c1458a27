"""Datasets and loaders: scikit-learn's digits, ``.npz`` files, binarisation, validation."""

from .loaders import Dataset, binarize, load_digits, load_npz, validate

__all__ = ["Dataset", "binarize", "load_digits", "load_npz", "validate"]
