r"""``cvprimer train``: one call from a config to a finished run folder.

The run folder holds ``config.json`` (written first), ``steps.csv``/``epochs.csv``/``epochs.jsonl``
(written as training goes; their columns are listed in :mod:`cvprimer.train.trainer` and docs/training.md),
``checkpoints/last.npz`` and ``best.npz``, ``curves.png``, with ``tensorboard=True`` the event files in
``tensorboard/``, and ``summary.json`` (final and best metrics, optimizer steps run, per-class report on the
validation split, the diagnosis with its evidence and remedies, wall time). ``max_steps`` may end the last
epoch early; the run resumes from there with a larger ``max_steps``. Ctrl-C stops cleanly: the summary is still
written and ``run_training(resume=run_dir)`` continues from the last checkpoint with the saved config.

Data flow: dataset -> stratified train/validation split (seeded) -> optional resize -> optional
resampling of the *training* split (over/under-sampling, SMOTE) -> standardisation fitted on the
training split only -> loaders (augmentations on training batches only).

Data parallel (``distributed=True``, under ``mpiexec -n N``): ``batch_size`` stays the GLOBAL batch, each
rank loading ``batch_size / N`` samples of its :class:`~cvprimer.distributed.DistributedSampler` shard, so
the steps per epoch, the schedule and (with the batch norms made :class:`~cvprimer.distributed.SyncBatchNorm`)
the arithmetic are those of one process: a run can be resumed with another number of ranks. Rank 0 writes
the run folder; the validation split is sharded and its metrics summed over the ranks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import optim
from cvprimer.core.serialization import WriteError
from cvprimer.train.callbacks import EarlyStopping, History, ModelCheckpoint
from cvprimer.train.checkpoint import CheckpointError, CheckpointWriteError
from cvprimer.train.config import AUGMENTS, IMBALANCE, OPTIMIZER_NAMES, SCHEDULES, RunError, TrainConfig  # noqa: F401
from cvprimer.train.diagnose import diagnose
from cvprimer.train.metrics import classification_report
from cvprimer.train.monitors import GradientMonitor, NaNGuard
from cvprimer.train.rundir import RunLock, check_resumable, check_run_folder, prepare_new, write_file
from cvprimer.train.strategy import SingleProcess, make_strategy
from cvprimer.train.trainer import Trainer


@dataclasses.dataclass(frozen=True)
class OptimizerChoice:
    """One ``--optimizer`` value: the :mod:`cvprimer.optim` class, the config fields passed on besides ``lr``,
    ``weight_decay`` and ``l1_decay`` (which every optimizer takes), fixed keyword arguments, and the weight decay
    used when ``--weight-decay`` is 0 (AdamW's decoupled decay defaults to 1e-2, as in PyTorch)."""

    cls: str
    from_config: tuple[str, ...] = ()
    fixed: tuple[tuple[str, Any], ...] = ()
    default_decay: float = 0.0

    def __call__(self, params: Any, cfg: TrainConfig) -> Any:
        kw = {name: getattr(cfg, name) for name in self.from_config}
        return getattr(optim, self.cls)(params, lr=cfg.lr, weight_decay=cfg.weight_decay or self.default_decay,
                                        l1_decay=cfg.l1, **kw, **dict(self.fixed))


OPTIMIZERS: dict[str, OptimizerChoice] = {
    "sgd": OptimizerChoice("SGD"),
    "momentum": OptimizerChoice("SGD", ("momentum",)),
    "nesterov": OptimizerChoice("SGD", ("momentum",), (("nesterov", True),)),
    "adamw": OptimizerChoice("AdamW", default_decay=1e-2),
    **{name: OptimizerChoice(cls) for name, cls in (("adam", "Adam"), ("rmsprop", "RMSprop"), ("adagrad", "Adagrad"),
                                                    ("adadelta", "Adadelta"), ("adamax", "Adamax"),
                                                    ("nadam", "NAdam"), ("radam", "RAdam"))},
}


def _load_data(cfg: TrainConfig) -> Any:
    """The dataset, with a clean :class:`RunError` for anything wrong with it (an image folder of mixed sizes
    is resized to ``--resize`` when given)."""
    from cvprimer.data import load_dataset, load_image_folder

    try:
        if os.path.isdir(cfg.dataset):
            size = (cfg.resize, cfg.resize) if cfg.resize else None
            return load_image_folder(cfg.dataset, size=size)
        return load_dataset(cfg.dataset)
    except (ValueError, OSError) as e:
        raise RunError(f"--dataset {cfg.dataset!r}: {e}") from None


def _check_model_accepts(model: Any, sample: np.ndarray) -> None:
    """One forward pass on one sample before training, so a model/input mismatch is found up front."""
    was = model.training
    model.eval()
    try:
        with cp.no_grad():
            model(cp.Tensor(sample))
    finally:
        model.train(was)


# the copies of the image array a run holds at once: the resized images, their standardised training and
# validation copies (with --train-eval exact a third), and the batch the loader assembles; x3 is a floor
_IMAGE_COPIES = 3


def _human(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def _image_count(cfg: TrainConfig) -> tuple[int, int, tuple[int, int]]:
    """``(images, channels, (H, W))`` of the dataset as it will be trained on (``--resize`` applied), without
    loading an image folder (its files are counted; 3 channels, as it is read)."""
    from cvprimer.data.datasets.folder import IMAGE_EXTENSIONS

    if os.path.isdir(cfg.dataset):
        n = 0
        for cls in os.listdir(cfg.dataset):
            sub = os.path.join(cfg.dataset, cls)
            if os.path.isdir(sub) and not cls.startswith("."):
                n += sum(f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".") for f in os.listdir(sub))
        hw = (cfg.resize, cfg.resize) if cfg.resize else (0, 0)  # without --resize the files decide (not known)
        return n, 3, hw
    from cvprimer.data import load_dataset

    try:
        images = load_dataset(cfg.dataset).images  # embedded: small at their own size (cached by the loaders)
    except (ValueError, OSError) as e:
        raise RunError(f"--dataset {cfg.dataset!r}: {e}") from None
    hw = (cfg.resize, cfg.resize) if cfg.resize else tuple(images.shape[-2:])
    return int(images.shape[0]), int(images.shape[1]), (int(hw[0]), int(hw[1]))


def check_memory(cfg: TrainConfig) -> None:
    """Refuse (RunError, with the figures) a configuration whose images alone would not fit in the memory
    available (:func:`cvprimer.analysis.memory.available_memory`), before anything is allocated or written:
    ``images x channels x H x W x 4 bytes (float32) x 3 copies`` (resized, standardised, batches) is a floor."""
    from cvprimer.analysis.memory import available_memory

    avail = available_memory()
    if avail is None:
        return
    n, c, (h, w) = _image_count(cfg)
    need = n * c * h * w * 4 * _IMAGE_COPIES
    if need > avail:
        size = f"--resize {cfg.resize}: " if cfg.resize else ""
        raise RunError(f"{size}the {n} images of --dataset {cfg.dataset} at {c}x{h}x{w} need at least {_human(need)} "
                       f"({n} x {c} x {h} x {w} float32, x{_IMAGE_COPIES} for the resized, standardised and batch "
                       f"copies) but {_human(avail)} of memory are available; "
                       f"{'choose a smaller --resize' if cfg.resize else 'use a smaller dataset, or --resize it'}")


def _check_splits(y: np.ndarray, val: Any, train: Any, cfg: TrainConfig) -> None:
    """Refuse an empty split before any training; warn about a single class (accuracy 1.0 means nothing)."""
    if len(val) == 0:
        raise RunError(f"--val-fraction {cfg.val_fraction}: the validation split of {len(y)} samples is empty; "
                       f"raise --val-fraction or add data")
    if len(train) == 0:
        raise RunError(f"--val-fraction {cfg.val_fraction}: the training split of {len(y)} samples is empty")
    if np.unique(y).size < 2:
        print(f"warning: --dataset {cfg.dataset!r} holds a single class ({int(y[0])}); accuracy will be 1.0 "
              f"whatever the model learns", file=sys.stderr)


def _resize(x: np.ndarray, size: int | None) -> np.ndarray:
    if size is None or x.shape[-1] == size:
        return x
    with cp.no_grad():
        return F.interpolate(cp.Tensor(x), size=(size, size), mode="bilinear", align_corners=False).data


def _augmentations(cfg: TrainConfig, num_classes: int, hw: tuple[int, int]) -> Any:
    from cvprimer.data import augment as A

    table = {
        "hflip": lambda: A.RandomHorizontalFlip(), "crop": lambda: A.RandomCrop(hw, padding=max(hw[0] // 8, 1)),
        "rotate": lambda: A.RandomRotation(15), "affine": lambda: A.RandomAffine(10, translate=(0.1, 0.1)),
        "noise": lambda: A.GaussianNoise(0.05), "blur": lambda: A.GaussianBlur((0.1, 1.0)),
        "jitter": lambda: A.ColorJitter(0.2, 0.2), "erasing": lambda: A.RandomErasing(),
        "mixup": lambda: A.Mixup(num_classes), "cutmix": lambda: A.CutMix(num_classes),
    }
    chosen = [table[a]() for a in cfg.augment]
    return A.Compose(chosen) if chosen else None


def _plot(history: list[dict], path: str) -> bool:
    try:  # a Figure of its own, no pyplot: the user's backend (a notebook's) is left as it is
        from matplotlib.figure import Figure
    except ImportError:
        return False
    ep = [h["epoch"] for h in history]
    fig = Figure(figsize=(13, 3.6))
    axes = fig.subplots(1, 3)
    for key, ax in (("loss", axes[0]), ("acc", axes[1])):
        for split in ("train", "val"):
            if f"{split}_{key}" in history[0]:
                ax.plot(ep, [h[f"{split}_{key}"] for h in history], marker="o", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.legend()
    axes[2].plot(ep, [h["lr"] for h in history], marker="o")
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("learning rate (start of epoch)")
    fig.tight_layout()
    write_file(path, lambda f: fig.savefig(f, dpi=100, format="png"))
    return True


def _check_world(cfg: TrainConfig, comm: Any) -> None:
    """Check that the configuration can be split over the ranks of ``comm`` (RunError otherwise)."""
    if cfg.batch_size % comm.world_size:
        raise RunError(f"--batch-size {cfg.batch_size} is the global batch and must be a multiple of the "
                       f"{comm.world_size} ranks (each rank takes batch_size / ranks samples per step)")
    if cfg.imbalance == "weighted" and comm.world_size > 1:
        raise RunError("--imbalance weighted (a weighted sampler) cannot be combined with distributed "
                       "training over several ranks; use oversample or focal")


def saved_config(resume: str) -> TrainConfig:
    """The configuration a run folder was started with (its ``config.json``); RunDirError/RunError saying why
    there is none (no such folder, not a run folder, a config.json that is not a run configuration)."""
    check_run_folder(resume)
    try:
        with open(os.path.join(resume, "config.json"), encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, expected an object")
        return TrainConfig(**data)
    except (OSError, ValueError, TypeError) as e:
        raise RunError(f"--resume {resume!r}: config.json cannot be read as a run configuration ({e})") from None


def _resume_config(resume: str, epochs: int | None, max_steps: int | None = None) -> TrainConfig:
    """The saved configuration of a run to resume (``epochs`` and ``max_steps`` extend it); RunError if it cannot
    be used."""
    from cvprimer.train.checkpoint import read_checkpoint

    cfg = saved_config(resume)
    last = check_resumable(resume)
    if epochs is not None or max_steps is not None:
        try:
            info = read_checkpoint(last)[0]
            done = int(info["epoch"])
            steps = int(info.get("meta", {}).get("global_step", 0))
            cut = "partial_epoch" in info.get("meta", {})
        except (CheckpointError, TypeError, ValueError, AttributeError) as e:  # damaged or hostile file
            raise RunError(f"--resume {resume!r}: {e}") from None
        if epochs is not None:
            if epochs < done:  # a checkpoint max_steps wrote mid-epoch: epoch `done` is begun, not finished
                reached = f"is in epoch {done} (cut by --max-steps)" if cut else f"already finished {done} epochs"
                raise RunError(f"--epochs {epochs}: the run {reached}; give at least {done}")
            cfg.epochs = epochs
        if max_steps is not None:
            if max_steps < steps:
                raise RunError(f"--max-steps {max_steps}: the run already made {steps} optimizer steps; give at "
                               f"least {steps}")
            cfg.max_steps = max_steps
    return cfg


def run_training(cfg: TrainConfig | None = None, run_dir: str | None = None, resume: str | None = None,
                 verbose: bool = True, distributed: bool = False, overwrite: bool = False,
                 epochs: int | None = None, max_steps: int | None = None) -> dict[str, Any]:
    """Train as configured and write the run folder; returns the summary dict (on ranks other than 0
    of a distributed run, a short one: ``run_dir``, ``rank``, ``error``, ``interrupted``).

    Before anything is loaded or written: the configuration is validated, a new run's folder must be new or
    empty (``overwrite`` clears an earlier run's files, never a folder that is not a run), a resumed run must
    have a checkpoint (``epochs`` and ``max_steps`` may extend it). The folder is locked while the run trains.
    The summary is written on every way out (finished, interrupted — also during start-up —, stopped by the NaN
    guard). With several MPI ranks these checks (and the data, model and checkpoint checks that follow) are
    agreed (:func:`cvprimer.distributed.comm.agreed`): a refusal is raised on every rank alike, before any
    other collective."""
    comm = None
    if distributed:
        from cvprimer.distributed import init

        comm = init()
    main = comm is None or comm.is_main
    lock = None
    try:
        with _agreed(comm):  # decided alike on every rank, before any other collective
            if resume is not None:
                cfg, run_dir = _resume_config(resume, epochs, max_steps), resume
            cfg = cfg or TrainConfig()
            cfg.validate()
            if comm is not None:
                _check_world(cfg, comm)
            check_memory(cfg)  # before the folder is made: a --resize that cannot fit is refused with the figure
            stamp = time.strftime("%Y%m%d-%H%M%S")
            run_dir = run_dir or os.path.join("runs", f"{cfg.model}-{os.path.basename(cfg.dataset)}-{stamp}")
            if main:
                if resume is None:
                    prepare_new(run_dir, overwrite)
                lock = RunLock(run_dir)
                lock.acquire()
        if comm is not None:
            run_dir = comm.bcast_object(run_dir)  # rank 0's clock names the folder (and its checks came first)
        os.makedirs(run_dir, exist_ok=True)
        return _run_locked(cfg, run_dir, resume, verbose, comm, main)
    finally:
        if lock is not None:
            lock.release()


@dataclass
class Setup:
    """What a run trains with, built from its configuration (see :func:`build_training`)."""

    model: Any
    optimizer: Any
    loss_fn: Any
    train_loader: Any
    val_loader: Any
    exact_loader: Any  # the training split as split (before any resampling), standardised, in order
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int


def load_splits(cfg: TrainConfig) -> tuple[Any, int]:
    """Seed the default generator, load the dataset (resized) and split it: ``(splits, num_classes)``."""
    from cvprimer.data import split_arrays

    cp.manual_seed(cfg.seed)
    ds = _load_data(cfg)
    x, y = _resize(ds.images, cfg.resize), ds.labels
    frac = (1 - cfg.val_fraction, cfg.val_fraction, 0.0)
    splits = split_arrays(x, y, frac, rng=np.random.default_rng(cfg.seed))
    _check_splits(y, splits.val, splits.train, cfg)
    return splits, int(y.max()) + 1


def build_training(cfg: TrainConfig, splits: Any, num_classes: int, strategy: SingleProcess | None = None) -> Setup:
    """The data flow of the module docstring up to the loaders, then the model (checked on one sample), its
    optimizer and the loss. ``strategy`` (default one process) shards the training and validation splits, sizes
    the per-process batch and prepares the model (:mod:`cvprimer.train.strategy`)."""
    from cvprimer.data import ArrayDataset, DataLoader, Standardizer
    from cvprimer.data import imbalance as imb
    from cvprimer.models import get_model

    train = splits.train
    if cfg.imbalance in ("oversample", "undersample", "smote"):
        fn = {"oversample": imb.random_oversample, "undersample": imb.random_undersample, "smote": imb.smote}
        train = fn[cfg.imbalance](train, rng=np.random.default_rng(cfg.seed))
    norm = Standardizer(per_channel=True).fit(train.images)
    xtr, xva = norm(train.images), norm(splits.val.images)
    strategy = strategy or SingleProcess()
    sampler = imb.weighted_sampler(train.labels) if cfg.imbalance == "weighted" else None
    sampler = strategy.sampler(len(xtr)) if sampler is None else sampler  # weighted: one process (_check_world)
    val_sampler = strategy.sampler(len(xva), shuffle=False, pad=False)
    transform = strategy.rank_transform(_augmentations(cfg, num_classes, xtr.shape[-2:]))
    batch = strategy.local_batch(cfg.batch_size)
    train_loader = DataLoader(ArrayDataset(xtr, train.labels), batch_size=batch, shuffle=sampler is None,
                              sampler=sampler, rng=np.random.default_rng(cfg.seed + 1), transform=transform,
                              prefetch=1)
    val_loader = DataLoader(ArrayDataset(xva, splits.val.labels), batch_size=256, sampler=val_sampler)
    exact = (DataLoader(ArrayDataset(norm(splits.train.images), splits.train.labels), batch_size=256,
                        rng=np.random.default_rng(0)) if cfg.train_eval == "exact" else None)
    kwargs = dict(cfg.model_kwargs)
    if cfg.dropout is not None:
        kwargs["dropout"] = cfg.dropout
    try:
        model = get_model(cfg.model, num_classes=num_classes, in_channels=xtr.shape[1], **kwargs)
    except (ValueError, TypeError) as e:
        if cfg.dropout is not None and "dropout" in str(e):  # the flag, not the images: say so
            raise RunError(f"--dropout {cfg.dropout}: --model {cfg.model} takes no dropout probability; leave out "
                           f"--dropout") from None
        raise RunError(f"--model {cfg.model} cannot be built with {sorted(kwargs) or 'its defaults'}: {e}") from None
    try:
        _check_model_accepts(model, xtr[:1])
    except (ValueError, TypeError) as e:
        raise RunError(f"--model {cfg.model} cannot train on images of shape {tuple(xtr.shape[1:])} "
                       f"(--resize changes it): {e}") from None
    model = strategy.prepare_model(model)
    opt = OPTIMIZERS[cfg.optimizer](model.parameters(), cfg)

    def loss_fn(out: cp.Tensor, target: cp.Tensor) -> cp.Tensor:
        if cfg.imbalance == "focal" and target.dtype.kind in "iu":
            return F.softmax_focal_loss(out, target, gamma=2.0)
        return F.cross_entropy(out, target, label_smoothing=cfg.label_smoothing)

    return Setup(model, opt, loss_fn, train_loader, val_loader, exact, xva, splits.val.labels, num_classes)


def _agreed(comm: Any) -> Any:
    """With several MPI ranks: a context in which a user error (a dataset, model or checkpoint that does not fit) is
    decided on every rank alike (:func:`cvprimer.distributed.comm.agreed`); else nothing."""
    if comm is None or comm.world_size == 1:
        return contextlib.nullcontext()
    from cvprimer.distributed.comm import agreed

    return agreed(comm, (ValueError, CheckpointError))


def _run_locked(cfg: TrainConfig, run_dir: str, resume: str | None, verbose: bool, comm: Any,
                main: bool) -> dict[str, Any]:
    """The life of a run whose folder is locked: config written, data loaded, model built, checkpoint checked,
    trained, summarized (the summary written on every way out)."""
    strategy = make_strategy(comm)
    _write_config(cfg, run_dir, main)
    t_start = time.perf_counter()
    try:
        with _agreed(comm):
            splits, num_classes = load_splits(cfg)
            su = build_training(cfg, splits, num_classes, strategy)
            if resume is not None:
                _check_resume_point(run_dir)
    except KeyboardInterrupt:  # Ctrl-C while loading: nothing trained, but say so in the run folder
        return _write_summary(run_dir, cfg, None, [], t_start, main, verbose, interrupted=True,
                              error="interrupted during start-up")
    trainer, hist, monitor = _make_trainer(cfg, su, run_dir, verbose, strategy)
    error = _train(trainer, cfg, su, run_dir, resume)
    if not main:
        return {"run_dir": run_dir, "rank": comm.rank, "error": error, "interrupted": trainer.interrupted}
    return _summarize(trainer, cfg, su, splits, hist, monitor, run_dir, t_start, verbose, error)


def _write_config(cfg: TrainConfig, run_dir: str, main: bool) -> None:
    """``config.json``, written first (and again on resume, which may have extended the epochs)."""
    if main:
        write_file(os.path.join(run_dir, "config.json"), json.dumps(dataclasses.asdict(cfg), indent=2))


def _check_resume_point(run_dir: str) -> None:
    """The run's ``checkpoints/last.npz`` can be read (RunError naming the folder otherwise)."""
    from cvprimer.train.checkpoint import read_checkpoint

    try:
        read_checkpoint(os.path.join(run_dir, "checkpoints", "last.npz"))
    except CheckpointError as e:
        raise RunError(f"--resume {run_dir!r}: {e}") from None


def _make_trainer(cfg: TrainConfig, su: Setup, run_dir: str, verbose: bool,
                  strategy: SingleProcess) -> tuple[Trainer, History, GradientMonitor]:
    """The schedule over the run's optimizer steps, the callbacks (logs, gradient monitor, NaN guard, checkpoints,
    early stopping, TensorBoard on the main process) and the Trainer."""
    steps = len(su.train_loader)
    total = cfg.epochs * steps if cfg.max_steps is None else min(cfg.epochs * steps, cfg.max_steps)
    sched, interval = optim.lr_scheduler.make_scheduler(cfg.schedule, su.optimizer, total_steps=total,
                                                        warmup_steps=int(round(cfg.warmup_epochs * steps)))
    hist, monitor = History(run_dir if strategy.is_main else None), GradientMonitor(every=10)
    callbacks = [hist, monitor, NaNGuard(), ModelCheckpoint(os.path.join(run_dir, "checkpoints"), "val_acc", "max")]
    if cfg.early_stopping:
        callbacks.append(EarlyStopping("val_loss", patience=cfg.early_stopping))
    if cfg.tensorboard and strategy.is_main:
        from cvprimer.train.tensorboard import TensorBoardLogger

        callbacks.append(TensorBoardLogger(os.path.join(run_dir, "tensorboard")))
    trainer = Trainer(su.model, su.loss_fn, su.optimizer, sched, callbacks, scheduler_interval=interval,
                      verbose=verbose, strategy=strategy, max_steps=cfg.max_steps, eval_every=cfg.eval_every,
                      train_eval=cfg.train_eval)
    return trainer, hist, monitor


def _train(trainer: Trainer, cfg: TrainConfig, su: Setup, run_dir: str, resume: str | None) -> str | None:
    """Fit (from ``checkpoints/last.npz`` when resuming); returns the error that stopped it early, if one process
    may stop alone (a NaN, a full disk), else raises it so the job ends rather than hangs."""
    last = os.path.join(run_dir, "checkpoints", "last.npz")
    try:
        trainer.fit(su.train_loader, su.val_loader, cfg.epochs, resume=last if resume is not None else None,
                    train_eval_loader=su.exact_loader)
    except FloatingPointError as e:  # NaN guard: keep what we have and say so in the summary
        if not trainer.strategy.stops_alone:
            raise  # the other ranks may be inside an all-reduce: end the job (abort) rather than hang
        return str(e)
    except (CheckpointWriteError, WriteError) as e:  # a full disk while saving or logging: stop, the summary says
        if not trainer.strategy.stops_alone:
            raise RunError(str(e)) from None  # only rank 0 writes: the others cannot carry on alone (abort)
        return str(e)
    except CheckpointError as e:
        raise RunError(f"--resume {run_dir!r}: {e}") from None
    return None


def _summarize(trainer: Trainer, cfg: TrainConfig, su: Setup, splits: Any, hist: History, monitor: GradientMonitor,
               run_dir: str, t_start: float, verbose: bool, error: str | None) -> dict[str, Any]:
    """The main process's summary: steps run, the per-class report on the validation split, the diagnosis, the
    curves; a Ctrl-C here still writes it."""
    extra: dict[str, Any] = {"world_size": trainer.strategy.world_size, "steps_run": trainer.global_step,
                             "stopped_at_max_steps": trainer.max_steps is not None
                             and trainer.global_step >= trainer.max_steps}
    try:
        epochs = hist.epochs
        pred = trainer.predict(su.x_val)
        extra["val_report"] = classification_report(pred, splits.val.labels, su.num_classes)
        extra["diagnosis"] = ([dataclasses.asdict(f) for f in diagnose(epochs, monitor.monitors(),
                                                                       hist.step_losses)] if epochs else [])
        try:
            extra["curves"] = "curves.png" if epochs and _plot(epochs, os.path.join(run_dir, "curves.png")) else None
        except WriteError as e:  # a full disk: the summary (small) may still fit, and says why there is no plot
            extra["curves"], error = None, error or str(e)
    except KeyboardInterrupt:  # Ctrl-C during the final evaluation or plot: the summary is still written
        trainer.interrupted = True
    return _write_summary(run_dir, cfg, extra, hist.epochs, t_start, True, verbose, trainer.interrupted, error)


def _write_summary(run_dir: str, cfg: TrainConfig, extra: dict[str, Any] | None, epochs: list[dict],
                   t_start: float, main: bool, verbose: bool, interrupted: bool, error: str | None) -> dict[str, Any]:
    """``summary.json`` (atomically, whatever ended the run) and the closing lines on screen."""
    summary: dict[str, Any] = {
        "config": dataclasses.asdict(cfg), "run_dir": run_dir, "interrupted": interrupted, "error": error,
        "epochs_run": len(epochs), "final": epochs[-1] if epochs else None,
        "best_val_acc": max((e.get("val_acc", float("nan")) for e in epochs), default=None),
        "diagnosis": [], "curves": None, "wall_time_s": time.perf_counter() - t_start,
    }
    summary.update(extra or {})
    if main:
        write_file(os.path.join(run_dir, "summary.json"), json.dumps(summary, indent=2, default=float))
    if verbose and main:
        print(f"run folder: {run_dir}; best val acc {summary['best_val_acc']}; "
              f"{len(summary['diagnosis'])} diagnosis finding(s); {summary['wall_time_s']:.1f}s")
        for d in summary["diagnosis"]:
            print(f"  - {d['kind']}: {d['message']}")
    return summary
