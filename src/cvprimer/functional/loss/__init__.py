"""Loss functions with PyTorch's names, arguments and ``reduction`` semantics, by family."""

from cvprimer.functional.loss.binary import binary_cross_entropy, binary_cross_entropy_with_logits  # noqa: F401
from cvprimer.functional.loss.classification import cross_entropy, nll_loss  # noqa: F401
from cvprimer.functional.loss.focal import sigmoid_focal_loss, softmax_focal_loss  # noqa: F401
from cvprimer.functional.loss.margin import cosine_embedding_loss, kl_div, multi_margin_loss  # noqa: F401
from cvprimer.functional.loss.penalty import l1_penalty, l2_penalty  # noqa: F401
from cvprimer.functional.loss.regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss  # noqa: F401
