"""Training: the Trainer, callbacks, monitors, checkpoints, metrics and run diagnosis."""

from cvprimer.train import metrics  # noqa: F401
from cvprimer.train.callbacks import Callback, EarlyStopping, History, ModelCheckpoint  # noqa: F401
from cvprimer.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: F401
from cvprimer.train.diagnose import Finding, diagnose  # noqa: F401
from cvprimer.train.monitors import GradientMonitor, NaNGuard, NonFiniteError  # noqa: F401
from cvprimer.train.tensorboard import TensorBoardLogger  # noqa: F401  (tensorboardX is imported when one is made)
from cvprimer.train.trainer import Trainer  # noqa: F401
