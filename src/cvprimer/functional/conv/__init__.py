"""The convolution family: conv1d, conv2d, conv_transpose2d, correlate2d, convolve2d."""

from cvprimer.functional.conv.conv2d import Conv2dFn, conv1d, conv2d  # noqa: F401
from cvprimer.functional.conv.conv_transpose import ConvTranspose2dFn, conv_transpose2d  # noqa: F401
from cvprimer.functional.conv.correlate import convolve2d, correlate2d  # noqa: F401
