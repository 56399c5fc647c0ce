"""Datasets: embedded (no download), IDX, CIFAR binary, image folders; the Dataset protocol."""

from cvprimer.data.datasets.base import ArrayDataset, Dataset, check_images, check_labels  # noqa: F401
from cvprimer.data.datasets.cifar import CIFAR10_CLASSES, load_cifar_binary, load_cifar_dir  # noqa: F401
from cvprimer.data.datasets.embedded import (  # noqa: F401
    DATASETS,
    load_dataset,
    load_digits,
    load_mnist_sample,
    load_sample_images,
)
from cvprimer.data.datasets.folder import load_image_folder  # noqa: F401
from cvprimer.data.datasets.idx import FASHION_MNIST_CLASSES, load_idx_dataset, read_idx, write_idx  # noqa: F401
