"""Data: embedded datasets and file formats, loader and samplers, splits, normalization, augmentation,
class imbalance. NumPy arrays throughout (NCHW float32 images, int64 labels); the DataLoader yields them as
Tensors, as PyTorch's does."""

from cvprimer.data import augment  # noqa: F401
from cvprimer.data.datasets import (  # noqa: F401
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
from cvprimer.data.imbalance import (  # noqa: F401
    ClassBalancedSampler,
    class_weights,
    random_oversample,
    random_undersample,
    smote,
    weighted_sampler,
)
from cvprimer.data.loader import DataLoader, default_collate  # noqa: F401
from cvprimer.data.preprocess import (  # noqa: F401
    ArctanSquash,
    Centerer,
    ExpSquash,
    FittedTransform,
    Log1p,
    MinMaxScaler,
    Standardizer,
    TanhSquash,
)
from cvprimer.data.samplers import (  # noqa: F401
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from cvprimer.data.split import Split, Splits, TrainSplit, split_arrays, stratified_split  # noqa: F401
from cvprimer.data.subsets import ConcatDataset, Subset, TensorDataset, random_split  # noqa: F401
from cvprimer.data.workers import WorkerInfo, get_worker_info  # noqa: F401
