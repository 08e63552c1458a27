"""Data loaders and validation: shapes, values, and errors that name the problem."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pcdppl as pp
from pcdppl.data import binarize, load_npz, validate


def test_load_digits_split_and_values():
    d = pp.data.load_digits(threshold=8)
    assert d.train.shape == (1437, 64) and d.test.shape == (360, 64)
    assert d.train.dtype == np.int8 and set(np.unique(d.train)) <= {0, 1}
    assert d.shape == (8, 8)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x = (load_digits().data > 8).astype(np.int8)
    tr, te = train_test_split(x, test_size=0.2, random_state=0)
    np.testing.assert_array_equal(d.test, te)


def test_npz_roundtrip_and_explicit_test(tmp_path):
    x = (np.random.default_rng(0).random((50, 12)) < 0.5).astype(np.int8)
    p = tmp_path / "d.npz"
    np.savez(p, train=x[:40], test=x[40:], shape=np.array([3, 4]))
    d = load_npz(p)
    np.testing.assert_array_equal(d.train, x[:40])
    np.testing.assert_array_equal(d.test, x[40:])
    assert d.shape == (3, 4)
    q = tmp_path / "images.npz"
    np.savez(q, x=x.reshape(50, 3, 4).astype(np.float32))
    d = load_npz(q, test_size=0.2)
    assert d.shape == (3, 4) and len(d.train) == 40 and len(d.test) == 10


def test_npz_errors_name_file_and_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_npz(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="bad.npz.*not a readable"):
        load_npz(bad)
    p = tmp_path / "two.npz"
    np.savez(p, a=np.zeros((3, 2)), b=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="key="):
        load_npz(p)
    with pytest.raises(KeyError, match="'zzz'"):
        load_npz(p, key="zzz")
    nan = tmp_path / "nan.npz"
    np.savez(nan, x=np.array([[0.0, np.nan], [1.0, 0.0]]))
    with pytest.raises(ValueError, match=r"nan.npz\['x'\].*NaN.*row 0, column 1"):
        load_npz(nan)
    spin = tmp_path / "spin.npz"
    np.savez(spin, x=np.array([[1, -1], [-1, 1]]))
    with pytest.raises(ValueError, match="look like spins"):
        load_npz(spin)
    assert load_npz(spin, values="spin", test_size=0.5).train.shape == (1, 2)
    mismatch = tmp_path / "mismatch.npz"
    np.savez(mismatch, train=np.zeros((4, 3)), test=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="2 units per example"):
        load_npz(mismatch)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0, 1, 2, -1, 0.5, float("nan")]), min_size=3,
                         max_size=3), min_size=1, max_size=5))
def test_validate_accepts_exactly_binary(rows):
    x = np.array(rows, dtype=np.float64)
    if np.isin(x, (0.0, 1.0)).all():
        assert validate(x).dtype == np.int8
    else:
        with pytest.raises(ValueError, match="row|NaN"):
            validate(x)


def test_validate_shape_and_dtype_errors():
    with pytest.raises(ValueError, match="2-D"):
        validate(np.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        validate(np.zeros((0, 3)))
    with pytest.raises(TypeError, match="numeric"):
        validate(np.array([["a", "b"]]))


def test_binarize():
    x = np.array([[0.0, 0.2, 0.9]])
    np.testing.assert_array_equal(binarize(x, 0.5), [[0, 0, 1]])
    draws = binarize(np.full((2000, 1), 0.3), key=0)
    assert abs(draws.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 2000)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        binarize(np.array([[2.0]]))
