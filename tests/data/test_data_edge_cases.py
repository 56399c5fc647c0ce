"""Data edge cases a careless user hits: float label files, 16-bit PNGs, decompression bombs, hidden folders,
mixed image sizes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cvprimer.data import load_idx_dataset, load_image_folder, write_idx


def _idx_pair(tmp_path, labels):
    images = np.zeros((len(labels), 4, 4), np.uint8)
    write_idx(tmp_path / "img.idx", images)
    write_idx(tmp_path / "lab.idx", np.asarray(labels))
    return tmp_path / "img.idx", tmp_path / "lab.idx"


def test_float_labels_that_are_not_whole_numbers_are_refused(tmp_path):
    img, lab = _idx_pair(tmp_path, np.array([0.0, 1.5, 2.0], np.float32))
    with pytest.raises(ValueError, match=r"not whole numbers.*1\.5"):
        load_idx_dataset(img, lab)


def test_float_labels_that_are_whole_numbers_load_exactly(tmp_path):
    img, lab = _idx_pair(tmp_path, np.array([0.0, 1.0, 2.0], np.float64))
    ds = load_idx_dataset(img, lab)
    assert ds.labels.tolist() == [0, 1, 2] and ds.labels.dtype == np.int64


def test_negative_labels_are_refused(tmp_path):
    img, lab = _idx_pair(tmp_path, np.array([0, -1, 2], np.int32))
    with pytest.raises(ValueError, match="negative labels"):
        load_idx_dataset(img, lab)


def _folder(tmp_path, spec):
    for cls, images in spec.items():
        (tmp_path / cls).mkdir(parents=True, exist_ok=True)
        for name, im in images.items():
            im.save(tmp_path / cls / name)
    return tmp_path


def test_16_bit_png_is_scaled_by_its_range_not_clipped(tmp_path):
    grey = np.array([[0, 16384], [32768, 65535]], np.uint16)
    root = _folder(tmp_path, {"a": {"x.png": Image.fromarray(grey)}})
    ds = load_image_folder(root, channels=1)
    np.testing.assert_allclose(ds.images[0, 0], grey / 65535.0, atol=1e-6)
    rgb = load_image_folder(root, channels=3)
    np.testing.assert_allclose(rgb.images[0, 2], grey / 65535.0, atol=1e-6)


def test_hidden_folders_and_files_are_skipped(tmp_path):
    im = Image.fromarray(np.full((3, 3), 200, np.uint8))
    root = _folder(tmp_path, {".ipynb_checkpoints": {"a.png": im}, "cat": {"a.png": im, ".b.png": im},
                              "dog": {"c.png": im}})
    ds = load_image_folder(root, channels=1)
    assert ds.class_names == ["cat", "dog"] and ds.labels.tolist() == [0, 1]


def test_mixed_sizes_name_the_first_mismatched_file_or_resize(tmp_path):
    root = _folder(tmp_path, {"a": {"1.png": Image.new("L", (4, 4)), "2.png": Image.new("L", (5, 3))}})
    with pytest.raises(ValueError, match=r"different sizes.*2\.png.*5x3.*size=\(H, W\)"):
        load_image_folder(root, channels=1)
    assert load_image_folder(root, channels=1, size=(6, 6)).images.shape == (2, 1, 6, 6)


def test_decompression_bomb_is_a_clean_error(tmp_path, monkeypatch):
    root = _folder(tmp_path, {"a": {"big.png": Image.new("L", (64, 64))}})
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64)  # 4096 pixels > 2 x 64: Pillow refuses to open it
    with pytest.raises(ValueError, match=r"cannot read image .*big\.png"):
        load_image_folder(root, channels=1)
