"""cvprimer: computer-vision deep-learning fundamentals, runnable and verified.

    import cvprimer as cp
    import cvprimer.functional as F
"""

from cvprimer.core import (  # noqa: F401
    DEFAULT_DTYPE,
    AnomalyError,
    Function,
    GradcheckError,
    Tensor,
    as_tensor,
    default_generator,
    detect_anomaly,
    directional_gradcheck,
    enable_grad,
    get_rng,
    gradcheck,
    is_grad_enabled,
    is_tensor,
    manual_seed,
    no_grad,
    set_grad_enabled,
    tensor,
)
from cvprimer.core.api import (  # noqa: F401
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    concat,
    concatenate,
    div,
    exp,
    expand,
    flatten,
    log,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sign,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from cvprimer.core.device import (  # noqa: F401  dtype names are NumPy dtypes (cp.float64 == np.float64)
    bool,
    complex64,
    complex128,
    device,
    double,
    float,
    float16,
    float32,
    float64,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from cvprimer.core.factories import (  # noqa: F401
    arange,
    empty,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    zeros,
    zeros_like,
)
from cvprimer.core.inference import inference_mode, is_inference_mode_enabled  # noqa: F401

_SUBMODULES = {"cuda", "functional", "nn", "optim", "data", "models", "analysis", "train", "lab"}


def __getattr__(name: str):  # lazy submodules: ``cp.nn`` without importing everything up front
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"cvprimer.{name}")
    raise AttributeError(f"module 'cvprimer' has no attribute {name!r}")


__version__ = "0.1.0"
from cvprimer.core.serialization import load, save  # noqa: F401, E402
