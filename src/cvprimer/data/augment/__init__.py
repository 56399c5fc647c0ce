"""Batch augmentations with recordable, replayable draws; targets (masks, boxes, keypoints) kept in sync."""

from cvprimer.data.augment.base import Batch, Transform  # noqa: F401
from cvprimer.data.augment.compose import Compose, OneOf, RandomApply  # noqa: F401
from cvprimer.data.augment.erase import Cutout, RandomErasing  # noqa: F401
from cvprimer.data.augment.geometric import (  # noqa: F401
    AffineTransform,
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomVerticalFlip,
    affine,
    rotate,
)
from cvprimer.data.augment.mix import CutMix, Mixup, one_hot  # noqa: F401
from cvprimer.data.augment.photometric import (  # noqa: F401
    ColorJitter,
    GaussianBlur,
    GaussianNoise,
    Grayscale,
    SaltAndPepper,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    gaussian_blur,
    hsv_to_rgb,
    rgb_to_hsv,
    to_grayscale,
)
from cvprimer.data.augment.warp import affine_matrix, invert, rotation_matrix, warp_images  # noqa: F401
