"""Batch augmentations with recordable, replayable draws; targets (masks, boxes, keypoints) kept in sync.

Example
-------
>>> import numpy as np
>>> from cvprimer.data.augment import Batch, Compose, RandomHorizontalFlip, RandomRotation
>>> x = np.random.default_rng(0).random((4, 3, 8, 8)).astype(np.float32)
>>> t = Compose([RandomHorizontalFlip(), RandomRotation(15)])
>>> out = t(Batch(x, masks=np.zeros((4, 8, 8), np.int64)), rng=1)
>>> again = t.replay(Batch(x, masks=np.zeros((4, 8, 8), np.int64)), t.last_params)
>>> bool(np.array_equal(out.images, again.images)), out.masks.shape
(True, (4, 8, 8))
"""

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
from cvprimer.data.augment.warp import affine, affine_matrix, invert, rotation_matrix, warp_images  # noqa: F401
