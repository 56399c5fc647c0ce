r"""Data parallelism: the gradient all-reduce, the rank-0 broadcasts and the ``DataParallel`` wrapper.

Every rank holds a full copy of the model and processes its own shard of each global batch. After
``backward`` rank ``r`` holds ``g_r = dL_r/dtheta``, the gradient of its local loss; one all-reduce gives
every rank the same

    g = (1/W) sum_{r=0}^{W-1} g_r                                  (what is communicated: the mean)

and every rank applies the same optimizer step to the same parameters, so they stay identical without
ever sending a parameter after the start. When ``L_r`` is the MEAN loss over ``r``'s ``B`` samples,
``g`` equals the gradient of the mean loss over all ``W B`` samples (the large-batch gradient). With a
SUM-reduced loss, ``g`` is ``1/W`` times the large-batch gradient (the sum of ``g_r`` would match it), and
with unequal shards the mean of means is not the mean over samples either.

**Bucketing.** The gradients are copied into one contiguous buffer per dtype (in parameter order),
reduced with ONE ``Allreduce`` (or a few, of at most ``bucket_bytes`` each), scaled by ``1/W`` and copied
back: a per-parameter call would pay the collective's latency once per tensor (59 tensors in a
ResNet-20). A parameter without a gradient on a rank contributes zeros there; one extra entry per
parameter counts how many ranks had a gradient, and a parameter nobody touched keeps ``grad = None``.

**Start.** Parameters, buffers and optimizer state are broadcast from rank 0 (one ``Bcast`` per dtype),
so ranks that initialised differently (or resumed from different files) start identical.

**Buffers.** Batch-norm running statistics are not gradients: with plain ``BatchNorm`` each rank's follow
its own shard. :func:`broadcast_buffers` copies rank 0's (what PyTorch's DDP does before each forward);
the trainer does it once per epoch, before evaluation and checkpoints. ``SyncBatchNorm`` keeps them
identical by construction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from cvprimer.core.function import is_grad_enabled
from cvprimer.core.tensor import Tensor
from cvprimer.distributed.comm import Communicator, world
from cvprimer.nn.module import Module

DEFAULT_OVERLAP_BUCKET_BYTES = 1 << 18  # 256 KiB: ~5 buckets for ResNet-20, 1-2 for LeNet-5


def _by_dtype(arrays: list[np.ndarray]) -> dict[np.dtype, list[int]]:
    groups: dict[np.dtype, list[int]] = {}
    for i, a in enumerate(arrays):
        groups.setdefault(a.dtype, []).append(i)
    return groups


def bcast_arrays(arrays: list[np.ndarray], comm: Communicator, root: int = 0) -> list[np.ndarray]:
    """Rank ``root``'s arrays on every rank (shapes and dtypes must already agree): packed into one flat
    buffer per dtype, one ``Bcast`` each, unpacked into new arrays."""
    out: list[np.ndarray] = [np.empty(0)] * len(arrays)
    for dt, idx in _by_dtype(arrays).items():
        buf = np.concatenate([arrays[i].ravel() for i in idx]) if idx else np.empty(0, dt)
        comm.bcast_(buf, root)
        off = 0
        for i in idx:
            out[i] = buf[off:off + arrays[i].size].reshape(arrays[i].shape).copy()
            off += arrays[i].size
    return out


def _state_tensors(model: Module, buffers: bool = True) -> list[tuple[str, Tensor]]:
    items: list[tuple[str, Tensor]] = list(model.named_parameters())
    if buffers:
        items += [(n, b) for n, b in model.named_buffers() if b is not None]
    return items


def broadcast_module(model: Module, comm: Communicator | None = None, root: int = 0, buffers: bool = True) -> None:
    """Overwrite every rank's parameters (and buffers) in place with rank ``root``'s.

    Raises ``ValueError`` on a rank whose model has different names, shapes or dtypes than the root's.
    """
    comm = comm or world()
    if comm.world_size == 1:
        return
    items = _state_tensors(model, buffers)
    sig = [(n, tuple(t.shape), str(t.dtype)) for n, t in items]
    root_sig = comm.bcast_object(sig, root)
    if root_sig != sig:
        diff = [f"{a} vs root {b}" for a, b in zip(sig, root_sig, strict=False) if a != b][:3]
        raise ValueError(f"broadcast_module: rank {comm.rank}'s model differs from rank {root}'s "
                         f"({len(sig)} vs {len(root_sig)} tensors; first differences: {diff}); every rank must "
                         "build the same model")
    values = bcast_arrays([t.data for _, t in items], comm, root)
    if comm.rank != root:
        for (_, t), v in zip(items, values, strict=True):
            t.data[...] = v


def broadcast_buffers(model: Module, comm: Communicator | None = None, root: int = 0) -> None:
    """Copy rank ``root``'s buffers (e.g. BN running statistics) to every rank, in place."""
    comm = comm or world()
    items = [(n, b) for n, b in model.named_buffers() if b is not None]
    if comm.world_size == 1 or not items:
        return
    values = bcast_arrays([b.data for _, b in items], comm, root)
    if comm.rank != root:
        for (_, b), v in zip(items, values, strict=True):
            b.data[...] = v


def broadcast_optimizer(optimizer: Any, comm: Communicator | None = None, root: int = 0) -> None:
    """Give every rank rank ``root``'s optimizer state (moments, step counts) and hyper-parameters."""
    comm = comm or world()
    if comm.world_size == 1:
        return
    sd = optimizer.state_dict() if comm.rank == root else None
    layout = None
    if sd is not None:
        keys = [(i, k) for i, st in sd["state"].items() for k, v in st.items() if isinstance(v, np.ndarray)]
        layout = {"param_groups": sd["param_groups"],
                  "scalars": {i: {k: v for k, v in st.items() if not isinstance(v, np.ndarray)}
                              for i, st in sd["state"].items()},
                  "arrays": [(i, k, sd["state"][i][k].shape, sd["state"][i][k].dtype.str) for i, k in keys]}
    layout = comm.bcast_object(layout, root)
    arrays = ([sd["state"][i][k] for i, k, _, _ in layout["arrays"]] if sd is not None
              else [np.empty(shape, np.dtype(dt)) for _, _, shape, dt in layout["arrays"]])
    arrays = bcast_arrays(arrays, comm, root)
    if comm.rank == root:
        return
    state: dict[int, dict[str, Any]] = {int(i): dict(s) for i, s in layout["scalars"].items()}
    for (i, k, _, _), a in zip(layout["arrays"], arrays, strict=True):
        state.setdefault(int(i), {})[k] = a
    optimizer.load_state_dict({"state": state, "param_groups": layout["param_groups"]})


class GradientReducer:
    r"""The bucketed gradient all-reduce over a fixed list of parameters (buffers reused across steps).

    Parameters
    ----------
    params : the parameters whose gradients are reduced (those with ``requires_grad``)
    comm : communicator (default: the world)
    bucket_bytes : None (default): one ``Allreduce`` per dtype over all gradients; a number: buckets of at
        most that many bytes (each at least one parameter), one call each

    Calling it (``reducer(op="mean")``) replaces every ``p.grad`` by the mean (or ``op="sum"``: the sum)
    over ranks and returns the number of bytes handed to ``Allreduce`` by this rank.
    """

    def __init__(self, params: Iterable[Tensor], comm: Communicator | None = None,
                 bucket_bytes: int | None = None) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.comm = comm or world()
        if bucket_bytes is not None and bucket_bytes < 1:
            raise ValueError(f"GradientReducer: bucket_bytes must be >= 1 or None, got {bucket_bytes}")
        self.bucket_bytes = bucket_bytes
        self._groups = _by_dtype([p.data for p in self.params])
        # per dtype: gradients first, then one has-a-gradient count per parameter
        self._buffers = {dt: np.empty(sum(self.params[i].data.size for i in idx) + len(idx), dt)
                         for dt, idx in self._groups.items()}

    @property
    def payload_bytes(self) -> int:
        """Bytes handed to ``Allreduce`` per call of the reducer (gradients plus the per-parameter counts)."""
        return int(sum(b.nbytes for b in self._buffers.values()))

    def _buckets(self, buf: np.ndarray, sizes: list[int]) -> list[slice]:
        """Slices of ``buf`` of at most ``bucket_bytes`` (whole parameters; the counts in the last)."""
        if self.bucket_bytes is None:
            return [slice(0, buf.size)]
        cuts, start, acc = [], 0, 0
        for n in sizes:
            if acc and (acc + n) * buf.itemsize > self.bucket_bytes:
                cuts.append(slice(start, start + acc))
                start, acc = start + acc, 0
            acc += n
        cuts.append(slice(start, buf.size))  # the tail bucket carries the counts
        return cuts

    def __call__(self, op: str = "mean") -> int:
        if op not in ("mean", "sum"):
            raise ValueError(f"GradientReducer: op must be 'mean' or 'sum', got {op!r}")
        w = self.comm.world_size
        if w == 1:  # one process: the gradients are already the answer
            return 0
        sent = 0
        for dt, idx in self._groups.items():
            buf = self._buffers[dt]
            n_grad = buf.size - len(idx)
            off = 0
            for j, i in enumerate(idx):
                p = self.params[i]
                seg = buf[off:off + p.data.size]
                if p.grad is None:
                    seg[...] = 0
                    buf[n_grad + j] = 0
                else:
                    seg[...] = p.grad.data.reshape(-1)
                    buf[n_grad + j] = 1
                off += p.data.size
            for sl in self._buckets(buf, [self.params[i].data.size for i in idx]):
                self.comm.allreduce_(buf[sl])
                sent += buf[sl].nbytes
            if op == "mean":
                buf[:n_grad] /= dt.type(w)
            off = 0
            for j, i in enumerate(idx):
                p = self.params[i]
                seg = buf[off:off + p.data.size].reshape(p.shape)
                off += p.data.size
                if buf[n_grad + j] == 0:  # no rank had a gradient for p
                    continue
                if p.grad is None:
                    p.grad = Tensor._wrap(seg.copy())
                else:
                    p.grad.data[...] = seg
        return sent


class _Bucket:
    """One bucket of the overlapped reducer: a few parameters of one dtype, their gradients then one
    has-a-gradient count per parameter in one buffer, and how many have not reported yet this step."""

    __slots__ = ("dtype", "members", "offsets", "buf", "n_grad", "left", "request", "launched")

    def __init__(self, dtype: np.dtype, members: list[int], sizes: list[int]) -> None:
        self.dtype = dtype
        self.members = members
        self.offsets = [0]
        for n in sizes:
            self.offsets.append(self.offsets[-1] + n)
        self.n_grad = self.offsets[-1]
        self.buf = np.empty(self.n_grad + len(members), dtype)
        self.left = len(members)
        self.request: Any = None
        self.launched = False


class OverlappedReducer:
    r"""The gradient all-reduce overlapped with backward, as PyTorch's DDP does it.

    The parameters are cut into buckets of about ``bucket_bytes`` (one dtype each) in REVERSE parameter
    order, the order in which backward finishes their gradients. While :meth:`armed`, each parameter's
    post-accumulate-grad hook (``Tensor.register_post_accumulate_grad_hook``) copies its finished gradient
    into its bucket; when the bucket is full and every bucket before it has been started, a nonblocking
    ``Iallreduce`` starts on it (buckets start in the same order on every rank, which MPI requires) and
    the rest of backward runs meanwhile; each hook also lets the started collectives progress.
    :meth:`finish` (after backward, before the optimizer step) starts the buckets not started yet (a
    parameter without a gradient contributes zeros and count 0), waits for all, divides by the world size
    for ``op="mean"`` and writes the gradients back; it returns the bytes handed to the all-reduce.

    The result is exactly :class:`GradientReducer`'s (the same elementwise sums, in other slices). A
    parameter whose hook fires twice in one step (two backward passes before :meth:`finish`, gradient
    accumulation) makes :meth:`finish` wait for the buckets in flight and reduce everything again from
    ``.grad``, which is then correct but not overlapped. As with DDP, a gradient is sent as it was when its
    hook fired: change ``.grad`` (clipping, scaling) only after :meth:`finish`.
    """

    def __init__(self, params: list[Tensor], comm: Communicator, bucket_bytes: int) -> None:
        if bucket_bytes < 1:
            raise ValueError(f"OverlappedReducer: bucket_bytes must be >= 1, got {bucket_bytes}")
        self.params = params
        self.comm = comm
        self.bucket_bytes = bucket_bytes
        self.buckets: list[_Bucket] = []
        self.where: dict[int, tuple[int, int]] = {}  # id(param) -> (bucket, slot)
        for dt, idx in _by_dtype([p.data for p in params]).items():
            members: list[int] = []
            size = 0
            for i in reversed(idx):
                n = params[i].data.size
                if members and (size + n) * dt.itemsize > bucket_bytes:
                    self._add_bucket(dt, members)
                    members, size = [], 0
                members.append(i)
                size += n
            if members:
                self._add_bucket(dt, members)
        self.armed = False
        self.redo = False
        self.next_launch = 0
        self.reported: set[int] = set()
        self.launched_in_backward = 0  # buckets started by hooks in the last step (tests, benchmarks)
        self._handles = [p.register_post_accumulate_grad_hook(self._hook) for p in params]

    def _add_bucket(self, dt: np.dtype, members: list[int]) -> None:
        b = len(self.buckets)
        for slot, i in enumerate(members):
            self.where[id(self.params[i])] = (b, slot)
        self.buckets.append(_Bucket(dt, list(members), [self.params[i].data.size for i in members]))

    def arm(self) -> None:
        """Start collecting gradients from the hooks (the wrapper does it in each training forward)."""
        if self.comm.world_size > 1 and not self.armed:
            self.armed = True
            self.launched_in_backward = 0

    def _hook(self, p: Tensor) -> None:
        if not self.armed:
            return
        key = id(p)
        if key in self.reported or self.redo:
            self.redo = True  # a second backward in this step: finish() reduces from .grad again
            return
        self.reported.add(key)
        b, slot = self.where[key]
        bucket = self.buckets[b]
        seg = bucket.buf[bucket.offsets[slot]:bucket.offsets[slot + 1]]
        seg[...] = p.grad.data.reshape(-1) if p.grad is not None else 0
        bucket.buf[bucket.n_grad + slot] = 1 if p.grad is not None else 0
        bucket.left -= 1
        self._launch_ready()
        self.comm.test_all([k.request for k in self.buckets if k.launched])

    def _launch_ready(self) -> None:
        while self.next_launch < len(self.buckets) and self.buckets[self.next_launch].left == 0:
            bucket = self.buckets[self.next_launch]
            bucket.request = self.comm.iallreduce_(bucket.buf)
            bucket.launched = True
            self.next_launch += 1
            self.launched_in_backward += 1

    def finish(self, op: str = "mean") -> int:
        """Complete the step's all-reduce (see the class docstring); returns the bytes sent by this rank."""
        if op not in ("mean", "sum"):
            raise ValueError(f"DataParallel: op must be 'mean' or 'sum', got {op!r}")
        w = self.comm.world_size
        was_armed, self.armed = self.armed, False
        sent = 0
        try:
            if w == 1:
                return 0
            if not was_armed or self.redo:
                self.comm.wait_all([k.request for k in self.buckets if k.launched])
                for bucket in self.buckets:  # everything again, from .grad
                    for slot, i in enumerate(bucket.members):
                        g = self.params[i].grad
                        seg = bucket.buf[bucket.offsets[slot]:bucket.offsets[slot + 1]]
                        seg[...] = g.data.reshape(-1) if g is not None else 0
                        bucket.buf[bucket.n_grad + slot] = 1 if g is not None else 0
                    bucket.left = 0
                    bucket.launched = False
                self.next_launch = 0
                self.launched_in_backward = 0
            for bucket in self.buckets:  # parameters that got no gradient on this rank: zeros, count 0
                if bucket.launched or bucket.left == 0:
                    continue
                for slot, i in enumerate(bucket.members):
                    if id(self.params[i]) not in self.reported:
                        bucket.buf[bucket.offsets[slot]:bucket.offsets[slot + 1]] = 0
                        bucket.buf[bucket.n_grad + slot] = 0
                bucket.left = 0
            self.launched_in_backward, in_backward = 0, self.launched_in_backward
            self._launch_ready()
            self.launched_in_backward = in_backward
            self.comm.wait_all([k.request for k in self.buckets])
            for bucket in self.buckets:
                sent += bucket.buf.nbytes
                if op == "mean":
                    bucket.buf[:bucket.n_grad] /= bucket.dtype.type(w)
                for slot, i in enumerate(bucket.members):
                    if bucket.buf[bucket.n_grad + slot] == 0:  # no rank had a gradient for p
                        continue
                    p = self.params[i]
                    seg = bucket.buf[bucket.offsets[slot]:bucket.offsets[slot + 1]].reshape(p.shape)
                    if p.grad is None:
                        p.grad = Tensor._wrap(seg.copy())
                    else:
                        p.grad.data[...] = seg
            return sent
        finally:
            for bucket in self.buckets:
                bucket.left = len(bucket.members)
                bucket.request = None
                bucket.launched = False
            self.next_launch = 0
            self.reported.clear()
            self.redo = False

    def remove_hooks(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


def allreduce_gradients(params: Iterable[Tensor], comm: Communicator | None = None, op: str = "mean",
                        bucket_bytes: int | None = None) -> int:
    """One-off :class:`GradientReducer` call: replace each ``p.grad`` by its mean (or sum) over ranks.
    Returns the bytes this rank handed to ``Allreduce``."""
    return GradientReducer(params, comm, bucket_bytes)(op)


def rank_generator_(gen: np.random.Generator, comm: Communicator | None = None) -> np.random.Generator:
    """Move ``gen`` (in place) to rank ``r``'s own stream: its bit generator jumped ``r`` times.

    Rank 0's stream is untouched, and the others are ``2^127``-step jumps apart (PCG64), so dropout masks
    differ across ranks while a checkpoint of rank 0's state still determines every rank's stream.
    """
    comm = comm or world()
    if comm.rank:
        bg = gen.bit_generator
        if not hasattr(bg, "jumped"):
            raise TypeError(f"rank_generator_: the bit generator {type(bg).__name__} cannot jump; use PCG64")
        bg.state = bg.jumped(comm.rank).state
    return gen


def bytes_per_step(model: Module, world_size: int = 2) -> dict[str, float]:
    r"""What data-parallel training of ``model`` communicates per optimizer step, per rank.

    Returns
    -------
    dict with
    ``parameters`` (trainable tensors), ``gradient_bytes`` (sum of their sizes in bytes),
    ``payload_bytes`` (the all-reduce buffer: gradients plus one count per tensor),
    ``ring_bytes_per_rank`` = 2 (W - 1) / W x payload (what each rank sends, and receives, in a ring
    all-reduce: a reduce-scatter then an all-gather, each moving (W - 1)/W of the buffer),
    ``sync_bn_bytes`` (per step, per rank, forward all-gather and backward all-reduce of every
    SyncBatchNorm: (2C + 1) W + 2C values each), ``world_size``.

    Example
    -------
    >>> from cvprimer.models import get_model
    >>> bytes_per_step(get_model("lenet5"))["gradient_bytes"]
    246824
    """
    from cvprimer.distributed.sync_batch_norm import SyncBatchNorm

    params = [p for p in model.parameters() if p.requires_grad]
    grad = sum(p.data.nbytes for p in params)
    payload = grad + sum(p.data.itemsize for p in params)
    w = int(world_size)
    sbn = sum(((2 * m.num_features + 1) * w + 2 * m.num_features) * 8
              for m in model.modules() if isinstance(m, SyncBatchNorm))
    return {"parameters": len(params), "gradient_bytes": grad, "payload_bytes": payload,
            "ring_bytes_per_rank": 2 * (w - 1) / w * payload, "sync_bn_bytes": sbn if w > 1 else 0,
            "world_size": w}


class DataParallel(Module):
    r"""Wrap a model for data-parallel training in a hand-written loop.

    On construction rank 0's parameters and buffers are broadcast. ``forward`` is the wrapped model's;
    ``state_dict``/``load_state_dict`` are too (no ``module.`` prefix, so checkpoints load into the bare
    model). After ``loss.backward()`` call :meth:`allreduce_gradients`, then ``optimizer.step()``.

    With ``overlap=True`` a training forward (grad enabled, ``training`` mode) arms an
    :class:`OverlappedReducer`: gradient buckets of ``bucket_bytes`` (default 256 KiB, a few buckets for
    ResNet-20's 1.1 MB of gradients) start their ``Iallreduce`` during backward as they fill, and
    :meth:`allreduce_gradients` only completes them. Then, as with PyTorch's DDP, every rank must run each
    training forward and backward through the wrapper together: a backward on one rank alone (say rank 0
    taking a step before :func:`broadcast_optimizer`) would start collectives the other ranks never join.
    ``overlap=False`` (the default): one blocking bucketed ``Allreduce`` when :meth:`allreduce_gradients`
    is called, so rank-local backward passes stay free. Both give the same numbers.

    Example (run with ``mpiexec -n 2 python script.py``; as one process it is plain training)::

        model = DataParallel(get_model("lenet5"))
        opt = optim.SGD(model.parameters(), lr=0.1)
        broadcast_optimizer(opt)
        for x, y in DataLoader(ds, batch_size=64, sampler=DistributedSampler(len(ds)), rng=0):
            opt.zero_grad()
            F.cross_entropy(model(cp.tensor(x)), cp.tensor(y)).backward()
            model.allreduce_gradients()
            opt.step()
    """

    def __init__(self, module: Module, comm: Communicator | None = None, bucket_bytes: int | None = None,
                 overlap: bool = False) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected a Module, got {type(module).__name__}")
        self.module = module
        self.comm = comm or world()
        broadcast_module(module, self.comm)
        self.reducer = GradientReducer(module.parameters(), self.comm, bucket_bytes)
        self.overlapped: OverlappedReducer | None = None
        if overlap:
            self.overlapped = OverlappedReducer(self.reducer.params, self.comm,
                                                bucket_bytes or DEFAULT_OVERLAP_BUCKET_BYTES)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.overlapped is not None and self.training and is_grad_enabled():
            self.overlapped.arm()
        return self.module(*args, **kwargs)

    def allreduce_gradients(self, op: str = "mean") -> int:
        """Mean (or sum) of the gradients over ranks, in place; returns the bytes handed to Allreduce."""
        if self.overlapped is not None:
            return self.overlapped.finish(op)
        return self.reducer(op)

    def broadcast_buffers(self) -> None:
        broadcast_buffers(self.module, self.comm)

    def state_dict(self) -> Any:
        return self.module.state_dict()

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> Any:
        return self.module.load_state_dict(state_dict, strict)
