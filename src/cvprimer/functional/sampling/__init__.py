"""Sampling: resizing (``interpolate`` / ``upsample``), pixel shuffle/unshuffle, channel shuffle.

Each op's module has a ``cost(...)`` function (MACs, other FLOPs, bytes), re-exported here as
``<op>_cost`` for the analyzer.
"""

from cvprimer.functional.sampling.interpolate import InterpolateFn, interpolate, upsample
from cvprimer.functional.sampling.interpolate import cost as interpolate_cost
from cvprimer.functional.sampling.shuffle import (
    ChannelShuffleFn,
    PixelShuffleFn,
    PixelUnshuffleFn,
    channel_shuffle,
    pixel_shuffle,
    pixel_unshuffle,
)
from cvprimer.functional.sampling.shuffle import cost as shuffle_cost

__all__ = [
    "ChannelShuffleFn", "InterpolateFn", "PixelShuffleFn", "PixelUnshuffleFn", "channel_shuffle",
    "interpolate", "interpolate_cost", "pixel_shuffle", "pixel_unshuffle", "shuffle_cost", "upsample",
]
