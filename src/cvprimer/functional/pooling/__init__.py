"""Pooling: max/avg (sliding windows), adaptive and global pooling, max unpooling.

Each op's module also has a ``cost(...)`` function (MACs, other FLOPs, bytes), re-exported here
as ``<op>_cost`` for the analyzer.
"""

from cvprimer.functional.pooling.adaptive import AdaptiveAvgPool2dFn, adaptive_avg_pool2d
from cvprimer.functional.pooling.adaptive import cost as adaptive_avg_pool2d_cost
from cvprimer.functional.pooling.avg_pool import AvgPool2dFn, avg_pool2d
from cvprimer.functional.pooling.avg_pool import cost as avg_pool2d_cost
from cvprimer.functional.pooling.global_pool import (
    GlobalAvgPool2dFn,
    GlobalMaxPool2dFn,
    global_avg_pool2d,
    global_max_pool2d,
)
from cvprimer.functional.pooling.global_pool import cost as global_pool2d_cost
from cvprimer.functional.pooling.max_pool import MaxPool2dFn, max_pool2d
from cvprimer.functional.pooling.max_pool import cost as max_pool2d_cost
from cvprimer.functional.pooling.unpool import MaxUnpool2dFn, max_unpool2d
from cvprimer.functional.pooling.unpool import cost as max_unpool2d_cost

__all__ = [
    "AdaptiveAvgPool2dFn", "AvgPool2dFn", "GlobalAvgPool2dFn", "GlobalMaxPool2dFn", "MaxPool2dFn",
    "MaxUnpool2dFn", "adaptive_avg_pool2d", "adaptive_avg_pool2d_cost", "avg_pool2d", "avg_pool2d_cost",
    "global_avg_pool2d", "global_max_pool2d", "global_pool2d_cost", "max_pool2d", "max_pool2d_cost",
    "max_unpool2d", "max_unpool2d_cost",
]
