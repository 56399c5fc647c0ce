"""The convolution family: conv1d, conv2d, conv_transpose2d, correlate2d, convolve2d."""

from cvprimer.functional.conv.conv2d import Conv2dFn, conv1d, conv2d  # noqa: F401
