"""Differentiable functions with ``torch.nn.functional`` names (``import cvprimer.functional as F``)."""

from typing import TYPE_CHECKING

from cvprimer.core.api import pad  # noqa: F401
from cvprimer.functional.activation import registry as _activations
from cvprimer.functional.attention import (  # noqa: F401
    multi_head_attention,
    scaled_dot_product_attention,
    spatial_gate,
    squeeze_excitation,
)
from cvprimer.functional.conv import conv1d, conv2d, conv_transpose2d, convolve2d, correlate2d  # noqa: F401
from cvprimer.functional.dropout import dropout, dropout2d  # noqa: F401
from cvprimer.functional.encoding import one_hot  # noqa: F401
from cvprimer.functional.linear import linear  # noqa: F401
from cvprimer.functional.loss import (  # noqa: F401
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    l1_penalty,
    l2_penalty,
    mse_loss,
    multi_margin_loss,
    nll_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
    softmax_focal_loss,
)
from cvprimer.functional.normalization import batch_norm, group_norm, instance_norm, layer_norm  # noqa: F401
from cvprimer.functional.pooling import (  # noqa: F401
    adaptive_avg_pool2d,
    avg_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
    max_pool2d,
    max_unpool2d,
)
from cvprimer.functional.sampling import (  # noqa: F401
    channel_shuffle,
    interpolate,
    pixel_shuffle,
    pixel_unshuffle,
    upsample,
)

# every registered activation (relu, gelu, sigmoid, softmax, ...; cvprimer.functional.activation.registry),
# also one registered after this import
_activations.export_functions(globals())

# the registered activations spelled out for a type checker (a test keeps this list equal to the registry)
if TYPE_CHECKING:
    from cvprimer.core.api import sigmoid, tanh  # noqa: F401
    from cvprimer.functional.activation.exponential import celu, elu, selu, softplus  # noqa: F401
    from cvprimer.functional.activation.hard import hardsigmoid, hardswish  # noqa: F401
    from cvprimer.functional.activation.maxout import maxout  # noqa: F401
    from cvprimer.functional.activation.rectifier import hardtanh, leaky_relu, prelu, relu, relu6  # noqa: F401
    from cvprimer.functional.activation.smooth import gelu, mish, silu, softsign  # noqa: F401
    from cvprimer.functional.activation.smooth import silu as swish  # noqa: F401
    from cvprimer.functional.activation.softmax import log_softmax, softmax  # noqa: F401
