"""Data containers and loaders: validation, IDX parsing, Fashion-MNIST, CIFAR pickles, digits."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from tests.vision.conftest import make_tiny_dataset
from vision.cifar import CIFAR10_MEAN, load_cifar10, load_cifar100, load_cifar_batch
from vision.data import DATASETS, ImageSet, load_dataset, subsample
from vision.digits import load_digits, load_digits_dataset
from vision.idx import FASHION_MNIST_DEFAULT_ROOT, load_fashion_mnist, parse_idx, read_idx


def _images(n: int = 3) -> np.ndarray:
    return np.zeros((n, 1, 4, 4), dtype=np.float32)


# --------------------------------------------------------------------------------------- ImageSet


def test_imageset_is_read_only_and_leaves_caller_array_writable() -> None:
    images = _images()
    s = ImageSet(name="s", images=images, labels=np.array([0, 1, 2]), num_classes=3)
    assert len(s) == 3 and s.image_shape == (1, 4, 4)
    with pytest.raises(ValueError):
        s.images[0, 0, 0, 0] = 1.0
    images[0, 0, 0, 0] = 1.0  # the caller's own array is untouched
    sub = s.subset(np.array([2, 0]))
    assert sub.labels.tolist() == [2, 0]


@pytest.mark.parametrize(
    ("images", "labels", "num_classes", "match"),
    [
        (np.zeros((3, 4, 4), np.float32), np.array([0, 1, 2]), 3, r"shape \(N, C, H, W\)"),
        (np.zeros((3, 1, 4, 4), np.float64), np.array([0, 1, 2]), 3, "float32"),
        (_images(), np.array([[0, 1, 2]]), 3, "1-D"),
        (_images(), np.array([0, 1, 2], np.int32), 3, "int64"),
        (_images(), np.array([0, 1]), 3, "counts must match"),
        (_images(), np.array([0, 1, 3]), 3, "out of range"),
        (_images(), np.array([0, -1, 2]), 3, "out of range"),
        (_images(), np.array([0, 1, 2]), 0, "num_classes"),
    ],
)
def test_imageset_rejects_bad_input(images, labels, num_classes, match) -> None:
    with pytest.raises(ValueError, match=match):
        ImageSet(name="bad", images=images, labels=np.asarray(labels), num_classes=num_classes)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_imageset_rejects_non_finite_pixels(bad: float) -> None:
    images = _images()
    images[1, 0, 2, 2] = bad
    with pytest.raises(ValueError, match=r"non-finite .* in 1 image"):
        ImageSet(name="bad", images=images, labels=np.array([0, 1, 2]), num_classes=3)


def test_subset_rejects_out_of_range_indices() -> None:
    s = ImageSet(name="s", images=_images(), labels=np.array([0, 1, 2]), num_classes=3)
    with pytest.raises(ValueError, match="out of range"):
        s.subset(np.array([3]))


def test_registry_lists_all_datasets_and_names_valid_ones_on_error() -> None:
    assert DATASETS.names() == ["cifar10", "cifar100", "digits", "fashion_mnist"]
    with pytest.raises(ValueError, match="valid dataset names: cifar10, cifar100, digits, fashion_mnist"):
        load_dataset("mnist")


def test_subsample_is_seeded_and_ordered() -> None:
    data = make_tiny_dataset()
    a, b = subsample(data, n_train=10, n_test=4, seed=1), subsample(data, n_train=10, n_test=4, seed=1)
    assert np.array_equal(a.train.images, b.train.images) and len(a.test) == 4
    with pytest.raises(ValueError, match="n_train"):
        subsample(data, n_train=0, n_test=4, seed=1)


# -------------------------------------------------------------------------------------------- IDX


def _idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize(("dtype", "code"), [(np.uint8, 0x08), (np.int32, 0x0C), (np.float64, 0x0E)])
def test_parse_idx_round_trips(dtype, code) -> None:
    array = np.arange(24, dtype=dtype).reshape(2, 3, 4)
    decoded = parse_idx(_idx_bytes(array, code))
    assert decoded.shape == (2, 3, 4) and decoded.dtype.isnative
    np.testing.assert_array_equal(decoded, array)


def test_read_idx_reads_gzip_and_plain(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.uint8)
    (tmp_path / "a.gz").write_bytes(gzip.compress(_idx_bytes(array, 0x08)))
    (tmp_path / "a").write_bytes(_idx_bytes(array, 0x08))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "not an IDX file"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "body has 1 bytes"),
    ],
)
def test_parse_idx_rejects_malformed(raw: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_idx(raw)


def _write_fashion(root: Path, *, n_train: int = 6, n_test: int = 4, max_label: int = 9) -> None:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % (max_label + 1)).astype(np.uint8)
        labels[-1] = max_label
        (root / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(images, 0x08)))
        (root / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(labels, 0x08)))


def test_fashion_loader_on_tiny_idx_files_via_env_var(tmp_path: Path, monkeypatch) -> None:
    _write_fashion(tmp_path)
    monkeypatch.setenv("OFMU_FASHION_MNIST", str(tmp_path))
    data = load_dataset("fashion_mnist")
    assert data.train.images.shape == (6, 1, 28, 28) and len(data.test) == 4
    assert data.train.labels.dtype == np.int64 and data.class_names[9] == "Ankle boot"
    raw = load_fashion_mnist(root=tmp_path, normalize=False)
    assert raw.train.images.min() >= 0.0 and raw.train.images.max() <= 1.0
    np.testing.assert_allclose(data.train.images, (raw.train.images - 0.2860) / 0.3530, rtol=1e-5, atol=1e-5)


def test_fashion_loader_rejects_out_of_range_labels(tmp_path: Path) -> None:
    _write_fashion(tmp_path, max_label=10)
    with pytest.raises(ValueError, match=r"labels out of range \[0, 10\)"):
        load_fashion_mnist(root=tmp_path)


def test_fashion_missing_files_name_the_package_and_variable(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist") as err:
        load_fashion_mnist(root=tmp_path)
    assert "OFMU_FASHION_MNIST" in str(err.value)


@pytest.mark.skipif(
    not Path(FASHION_MNIST_DEFAULT_ROOT, "train-images-idx3-ubyte.gz").is_file() or "OFMU_FASHION_MNIST" in os.environ,
    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist() -> None:
    data = load_fashion_mnist()
    assert (len(data.train), len(data.test)) == (60_000, 10_000)
    assert data.train.image_shape == (1, 28, 28)
    assert np.bincount(data.train.labels).tolist() == [6000] * 10
    assert abs(float(data.train.images.mean())) < 1e-3 and abs(float(data.train.images.std()) - 1.0) < 1e-3


# ------------------------------------------------------------------------------------------ CIFAR


def _batch(n: int, label_key: bytes, seed: int, num_classes: int) -> dict[bytes, object]:
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"test", b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            label_key: [int(v) for v in rng.integers(0, num_classes, size=n)]}


def _dump(path: Path, obj: object, protocol: int) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar10_from_tiny_pickle_batches(tmp_path: Path, protocol: int) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = [_batch(3, b"labels", seed, 10) for seed in range(6)]
    for i, batch in enumerate(batches[:5], start=1):
        _dump(folder / f"data_batch_{i}", batch, protocol)
    _dump(folder / "test_batch", batches[5], protocol)
    data = load_cifar10(root=tmp_path)  # parent of the extracted folder
    assert data.train.images.shape == (15, 3, 32, 32) and len(data.test) == 3
    assert data.train.labels.tolist()[:3] == batches[0][b"labels"]
    # rows of b"data" are the R, G, B planes of a 32×32 image
    red = batches[0][b"data"][0, :1024].reshape(32, 32) / 255.0
    np.testing.assert_allclose(data.train.images[0, 0], (red - CIFAR10_MEAN[0]) / 0.2470, rtol=1e-5, atol=1e-5)
    assert load_cifar10(root=folder, normalize=False).train.images.max() <= 1.0


def test_cifar100_uses_fine_labels_and_meta(tmp_path: Path) -> None:
    _dump(tmp_path / "train", {**_batch(4, b"fine_labels", 0, 100), b"coarse_labels": [0] * 4}, 2)
    _dump(tmp_path / "test", {**_batch(2, b"fine_labels", 1, 100), b"coarse_labels": [0] * 2}, 2)
    _dump(tmp_path / "meta", {b"fine_label_names": [f"c{i}".encode() for i in range(100)]}, 2)
    data = load_cifar100(root=tmp_path)
    assert data.num_classes == 100 and data.class_names[7] == "c7" and len(data.train) == 4


def test_cifar_pickle_with_foreign_global_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    _dump(tmp_path / "data_batch_1", {b"data": Evil()}, 2)
    with pytest.raises(ValueError, match=r"refusing to load global .*system"):
        load_cifar_batch(tmp_path / "data_batch_1")


def test_cifar_batch_with_wrong_shape_is_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    bad = {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        _dump(folder / name, bad, 2)
    with pytest.raises(ValueError, match=r"shape \(N, 3072\)"):
        load_cifar10(root=folder)


def test_cifar_missing_says_where_to_get_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OFMU_CIFAR10", raising=False)
    with pytest.raises(FileNotFoundError, match=r"cs\.toronto\.edu/~kriz/cifar\.html"):
        load_dataset("cifar10")
    with pytest.raises(FileNotFoundError, match="OFMU_CIFAR100"):
        load_cifar100(root=tmp_path)


# ----------------------------------------------------------------------------------------- digits


def test_digits_shapes_split_and_determinism(digits) -> None:
    assert digits.train.image_shape == (1, 8, 8) and digits.num_classes == 10
    assert len(digits.train) + len(digits.test) == 1797
    counts = np.bincount(digits.test.labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # round(0.2 * n_c) of each class
    again = load_digits_dataset()
    np.testing.assert_array_equal(again.test.labels, digits.test.labels)
    np.testing.assert_array_equal(again.train.images, digits.train.images)
    with pytest.raises(ValueError, match="root must be None"):
        load_digits(root="/tmp")
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits_dataset(test_fraction=1.0)
