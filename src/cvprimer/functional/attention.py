r"""Attention: scaled dot-product attention (hand-written backward), multi-head attention,
and the two CNN attention blocks squeeze-and-excitation and CBAM's spatial gate.

Masks follow PyTorch, whose two conventions differ:
``scaled_dot_product_attention``'s boolean ``attn_mask`` is True where a query MAY attend;
``multi_head_attention``'s boolean ``attn_mask`` and ``key_padding_mask`` are True where it
may NOT (``nn.MultiheadAttention``'s rule). Float masks are added to the scores everywhere.

A query whose keys are all masked gets attention weights 0 and output 0 (and zero
gradients), not NaN. PyTorch 2.13's ``scaled_dot_product_attention`` does the same;
``nn.MultiheadAttention`` returns NaN for such rows (a difference from PyTorch).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.api import amax, cat, matmul, mean, relu, sigmoid, split
from cvprimer.core.cost import Cost, result_dtype
from cvprimer.core.function import Function
from cvprimer.core.pool import batch_spans, pool_map
from cvprimer.core.saves import Saves
from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation.softmax import SoftmaxFn
from cvprimer.functional.linear import linear


def _swap(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _softmax_rows_(a: np.ndarray) -> np.ndarray:
    """Softmax along the last axis of the float array ``a``, IN PLACE; a row that is all -inf
    gives zeros (``softmax_array(..., zero_empty=True)``'s rule) in four passes and no temporary
    of a's size: ``a -= max``, ``exp``, ``a *= 1 / sum``."""
    m = np.max(a, axis=-1, keepdims=True)
    m[~np.isfinite(m)] = 0  # an all -inf row (or a NaN) is shifted by 0: no inf - inf
    a -= m
    np.exp(a, out=a)
    s = np.sum(a, axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        inv = np.where(s > 0, 1 / s, 0).astype(a.dtype, copy=False)
    a *= inv
    return a


def _forward_block(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None, scale: float,
                   p: np.ndarray | None = None, o: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """O and P of :class:`AttentionFn` for one block (into ``p`` and ``o`` when given)."""
    a = np.matmul(q, _swap(k), out=p)  # (..., L, S): the one array the weights live in
    a *= a.dtype.type(scale)
    if mask is not None:
        if np.broadcast_shapes(a.shape, mask.shape) == a.shape:
            a += mask
        else:  # the mask carries leading axes that q and k do not
            a = a + mask
    p = _softmax_rows_(a)
    return np.matmul(p, v, out=o), p


def _backward_block(q: np.ndarray, k: np.ndarray, v: np.ndarray, p: np.ndarray, go: np.ndarray,
                    gp: np.ndarray | None, scale: float, need: tuple[bool, ...],
                    out: tuple[np.ndarray | None, ...] = (None, None, None)) -> tuple[np.ndarray | None, ...]:
    """(gQ, gK, gV) of :class:`AttentionFn` for one block (into ``out`` when given)."""
    gv = np.matmul(_swap(p), go, out=out[2]) if need[2] else None
    if not (need[0] or need[1]):
        return None, None, gv
    ga = np.matmul(go, _swap(v))  # gP' (..., L, S): a fresh buffer, turned into gA in place
    if gp is not None:
        ga += gp
    # gA = s P * (gP' - rowsum(gP' * P)), in place; the scale of the scores folded in once
    r = np.einsum("...j,...j->...", ga, p)[..., None]
    ga -= r
    ga *= p
    ga *= ga.dtype.type(scale)
    gq = np.matmul(ga, k, out=out[0]) if need[0] else None
    gk = np.matmul(_swap(ga), q, out=out[1]) if need[1] else None
    return gq, gk, gv


def _spans(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None) -> list[tuple[int, int]] | None:
    """Chunks of the first (batch) axis for the worker pool, or None: one call on the whole arrays
    (2-D inputs, leading axes that broadcast, mixed dtypes, a mask with more axes, too little work)."""
    if q.ndim < 3 or not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]) or not (q.dtype == k.dtype == v.dtype):
        return None
    if mask is not None and (mask.ndim > q.ndim or mask.dtype != q.dtype):
        return None
    spans = batch_spans(q.shape[0], math.prod(q.shape[1:-1]) * k.shape[-2])
    return spans if len(spans) > 1 else None


def _chunk(mask: np.ndarray | None, ndim: int, a: int, b: int) -> np.ndarray | None:
    """The rows a:b of the mask's first axis when it has the batch axis (else it broadcasts whole)."""
    if mask is None or mask.ndim < ndim or mask.shape[0] == 1:
        return mask
    return mask[a:b]


class AttentionFn(Function):
    r"""O = softmax(Q K^T s + M) V with its attention weights P as a second output.

    Shapes: Q (..., L, E), K (..., S, E), V (..., S, E_v), additive mask M broadcastable to
    (..., L, S) (0 keep, -inf drop; not differentiated), s the scale. Outputs O (..., L, E_v)
    and P (..., L, S); leading axes broadcast.

    Notes
    -----
    **Forward**: A = Q K^T s + M, P = softmax(A) along the keys (rows of all -inf give
    P = 0), O = P V. Saves Q, K, V and P.

    **Backward**: with gO and gP (the upstream gradient of the returned weights),
    gP' = gO V^T + gP, gV = P^T gO, gA = P * (gP' - rowsum(gP' * P)) (softmax's Jacobian),
    gQ = s gA K, gK = s gA^T Q.

    Passes: the scores are computed once into a fresh array and turned into P in place (scale,
    mask, shift by the row max, exp, multiply by 1/rowsum); backward builds gP' in one fresh
    buffer and turns it into s gA in place (the rowsum by ``einsum``, no product temporary); gP is
    added only when it is not the engine's zeros (the weights were used). With equal leading
    axes the batch is split into the pool's spans (their number set by the problem size alone, so the
    result does not depend on the thread count; :func:`cvprimer.core.pool.spans`), run on the engine's
    workers with the BLAS held to one thread: the many small GEMMs of attention do not thread inside the BLAS.
    """

    saves_for_backward = Saves(inputs=(0, 1, 2), outputs=(1,))  # q, k, v and the weights p
    is_gemm = True

    @staticmethod
    def forward(ctx, q, k, v, mask=None, scale=1.0):
        spans = _spans(q, k, v, mask)
        if spans is None:  # one call on the whole (possibly broadcast) arrays
            o, p = _forward_block(q, k, v, mask, scale)
        else:  # chunks of the first axis side by side on the worker pool, into shared outputs
            p = np.empty(q.shape[:-1] + (k.shape[-2],), q.dtype)
            o = np.empty(q.shape[:-1] + (v.shape[-1],), q.dtype)
            pool_map(lambda a, b: _forward_block(q[a:b], k[a:b], v[a:b], _chunk(mask, q.ndim, a, b), scale,
                                                 p[a:b], o[a:b]), spans)
        ctx.save_for_backward(q, k, v, p)
        ctx.scale = scale
        return o, p

    @staticmethod
    def backward(ctx, go, gp):
        q, k, v, p = ctx.saved_tensors
        need = ctx.needs_input_grad[:3]
        gp = gp if gp.any() else None  # the engine passes zeros when the weights were not used
        spans = _spans(q, k, v, None) if go.shape[:-2] == q.shape[:-2] else None
        if spans is None:
            return _backward_block(q, k, v, p, go, gp, ctx.scale, need)
        gq, gk, gv = (np.empty_like(t) if n else None for t, n in zip((q, k, v), need, strict=True))
        pool_map(lambda a, b: _backward_block(q[a:b], k[a:b], v[a:b], p[a:b], go[a:b],
                                              None if gp is None else gp[a:b], ctx.scale, need,
                                              tuple(None if g is None else g[a:b] for g in (gq, gk, gv))), spans)
        return gq, gk, gv

    @staticmethod
    def infer(call):
        """Output shapes and dtypes for the shape-only trace (the analyzer's protocol)."""
        q, k, v = call.inputs[:3]
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        L, S = q.shape[-2], k.shape[-2]
        dt = result_dtype(q, k, v)
        return [(lead + (L, v.shape[-1]), dt), (lead + (L, S), dt)]

    @staticmethod
    def cost(call):
        """The analyzer's protocol: see the module-level :func:`cost`."""
        q, k, v = call.inputs[:3]
        return cost(q.shape, k.shape, v.shape, itemsize=call.itemsize)


def _tensor(op: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be floating-point, got {x.dtype} with shape {x.shape}")
    return x


def _additive(op: str, mask: Any, keep_when_true: bool, dtype: np.dtype) -> np.ndarray | None:
    """A boolean or float mask as an additive float mask (0 keep, -inf drop)."""
    if mask is None:
        return None
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype == np.bool_:
        drop = ~m if keep_when_true else m
        return np.where(drop, -np.inf, 0).astype(dtype)
    if m.dtype.kind != "f":
        raise TypeError(f"{op}: masks must be boolean or floating-point, got dtype {m.dtype} (shape {m.shape})")
    return m.astype(dtype)


def _attend(q: Tensor, k: Tensor, v: Tensor, mask: np.ndarray | None, scale: float, dropout_p: float,
            rng: Any) -> tuple[Tensor, Tensor]:
    """(output, weights); with dropout a composite (softmax, engineer C's dropout, matmul)."""
    if dropout_p == 0.0:
        return AttentionFn.apply(q, k, v, mask, scale)
    from cvprimer.functional.dropout import dropout

    a = matmul(q, k.transpose(-2, -1)) * scale
    if mask is not None:
        a = a + mask
    p = dropout(SoftmaxFn.apply(a, -1, True), dropout_p, True, rng=rng)
    return matmul(p, v), p


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, attn_mask: Any = None, dropout_p: float = 0.0,
    is_causal: bool = False, scale: float | None = None, rng: np.random.Generator | None = None,
) -> Tensor:
    r"""softmax(q k^T * scale + mask) v (Vaswani et al., arXiv:1706.03762).

    Parameters
    ----------
    q : Tensor (..., L, E)
    k : Tensor (..., S, E)
    v : Tensor (..., S, E_v)
        Leading axes broadcast (e.g. (N, H, L, E)).
    attn_mask : Tensor or array, optional
        Broadcastable to (..., L, S): boolean (True = this query may attend to this key) or
        float (added to the scores; -inf drops). Not differentiated.
    dropout_p : float
        Dropout on the attention weights (always applied when > 0, as PyTorch).
    is_causal : bool
        Query i sees keys 0..i (top-left aligned lower triangle); excludes ``attn_mask``.
    scale : float, optional
        Default 1 / sqrt(E).
    rng : numpy Generator, optional
        For the dropout mask.

    Returns
    -------
    Tensor (..., L, E_v).

    Notes
    -----
    :class:`AttentionFn` holds the math (hand-written backward). A query whose keys are all
    masked gives zeros (PyTorch 2.13 also gives zeros here).

    Example
    -------
    >>> import cvprimer as cp
    >>> q = cp.randn(2, 3, 4)
    >>> scaled_dot_product_attention(q, q, q).shape
    (2, 3, 4)
    """
    op = "scaled_dot_product_attention"
    q, k, v = (_tensor(op, n, t) for n, t in (("q", q), ("k", k), ("v", v)))
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"{op}: q, k, v must be at least 2-D (..., L, E), got {q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"{op}: expected q (..., L, E), k (..., S, E), v (..., S, E_v); got q {q.shape}, k {k.shape}, v {v.shape}"
        )
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: pass either attn_mask or is_causal=True, not both")
    L, S = q.shape[-2], k.shape[-2]
    mask = _additive(op, attn_mask, True, q.dtype)
    if is_causal:
        mask = _additive(op, np.tril(np.ones((L, S), bool)), True, q.dtype)
    if mask is not None:
        try:
            np.broadcast_shapes(mask.shape, q.shape[:-2] + (L, S))
        except ValueError:
            raise ValueError(f"{op}: attn_mask of shape {mask.shape} does not broadcast to scores (..., {L}, {S}) "
                             f"for q {q.shape} and k {k.shape}") from None
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return _attend(q, k, v, mask, s, float(dropout_p), rng)[0]


def multi_head_attention(
    query: Tensor, key: Tensor, value: Tensor, num_heads: int, in_proj_weight: Tensor,
    in_proj_bias: Tensor | None, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
    key_padding_mask: Any = None, attn_mask: Any = None, dropout_p: float = 0.0, need_weights: bool = True,
    average_attn_weights: bool = True, training: bool = True, batch_first: bool = False,
    rng: np.random.Generator | None = None,
) -> tuple[Tensor, Tensor | None]:
    r"""Multi-head attention with packed projections, as ``torch.nn.MultiheadAttention``.

    Parameters
    ----------
    query : Tensor (L, N, E) (``batch_first``: (N, L, E); unbatched: (L, E))
    key, value : Tensor (S, N, E) (same layout rules)
    num_heads : int, dividing E; head size d = E / num_heads
    in_proj_weight : Tensor (3E, E), rows [W_q; W_k; W_v]; in_proj_bias (3E,) or None
    out_proj_weight : Tensor (E, E); out_proj_bias (E,) or None
    key_padding_mask : (N, S) (unbatched (S,)); boolean True = ignore this key, or float added
    attn_mask : (L, S) or (N * num_heads, L, S); boolean True = NOT allowed, or float added
    dropout_p : float; applied to the attention weights when ``training`` (the returned
        weights are then the dropped-out ones, as PyTorch's)
    need_weights, average_attn_weights : return the weights, averaged over heads or not
    rng : numpy Generator for dropout

    Returns
    -------
    (output, weights): output in the query's layout (L, N, E); weights (N, L, S) averaged,
    (N, num_heads, L, S) per head, or None when ``need_weights`` is False.

    Notes
    -----
    Composite: Q = query W_q^T + b_q (likewise K, V; one GEMM with the packed weight when
    query, key and value are the same tensor), split into heads (N, h, L, d), then
    :class:`AttentionFn` with scale 1 / sqrt(d) and the combined additive mask, heads
    concatenated back to (N, L, E), output = O W_o^T + b_o.
    Differences from PyTorch: a query whose keys are all masked gives zeros, not NaN.

    Example
    -------
    >>> import cvprimer as cp
    >>> x = cp.randn(5, 2, 8)  # (L, N, E)
    >>> out, w = multi_head_attention(x, x, x, 2, cp.randn(24, 8), None, cp.randn(8, 8), None)
    >>> out.shape, w.shape
    ((5, 2, 8), (2, 5, 5))
    """
    op = "multi_head_attention"
    query, key, value = (_tensor(op, n, t) for n, t in (("query", query), ("key", key), ("value", value)))
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = (t.unsqueeze(0 if batch_first else 1) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = np.asarray(getattr(key_padding_mask, "data", key_padding_mask))[None]
    if query.ndim != 3 or key.ndim != 3 or value.ndim != 3:
        raise ValueError(f"{op}: expected 3-D query/key/value, got {query.shape}, {key.shape}, {value.shape}")
    if not batch_first:
        query, key, value = (t.transpose(0, 1) for t in (query, key, value))
    n, L, E = query.shape
    S = key.shape[1]
    if key.shape != (n, S, E) or value.shape != (n, S, E):
        raise ValueError(f"{op}: key/value must be (N={n}, S, E={E}) in batch-first order, got {key.shape}, "
                         f"{value.shape}")
    if num_heads < 1 or E % num_heads:
        raise ValueError(f"{op}: embed dim {E} must be divisible by num_heads {num_heads}")
    if in_proj_weight.shape != (3 * E, E) or out_proj_weight.shape != (E, E):
        raise ValueError(f"{op}: expected in_proj_weight (3E, E) = {(3 * E, E)} and out_proj_weight {(E, E)}, "
                         f"got {in_proj_weight.shape} and {out_proj_weight.shape}")
    h, d = num_heads, E // num_heads

    def heads(y: Tensor) -> Tensor:
        return y.reshape(n, -1, h, d).permute(0, 2, 1, 3)  # (N, h, L or S, d)

    if query is key and key is value:
        # self-attention: one (N L, E) x (E, 3E) GEMM for Q, K and V, split along the features
        # (no slicing of the packed weight, whose backward would scatter three (3E, E) gradients)
        qkv = split(linear(query, in_proj_weight, in_proj_bias), E, dim=-1)  # 3 x (N, L, E)
        q_h, k_h, v_h = (heads(t) for t in qkv)
    else:
        def project(t: Tensor, i: int) -> Tensor:
            rows = slice(i * E, (i + 1) * E)
            return heads(linear(t, in_proj_weight[rows], None if in_proj_bias is None else in_proj_bias[rows]))

        q_h, k_h, v_h = project(query, 0), project(key, 1), project(value, 2)

    mask = None
    am = _additive(op, attn_mask, False, query.dtype)
    if am is not None:
        if am.shape not in ((L, S), (n * h, L, S)):
            raise ValueError(f"{op}: attn_mask must be (L, S) = {(L, S)} or (N*num_heads, L, S) = "
                             f"{(n * h, L, S)}, got {am.shape}")
        mask = am if am.ndim == 2 else am.reshape(n, h, L, S)
    kp = _additive(op, key_padding_mask, False, query.dtype)
    if kp is not None:
        if kp.shape != (n, S):
            raise ValueError(f"{op}: key_padding_mask must be (N, S) = {(n, S)}, got {kp.shape}")
        kp = kp.reshape(n, 1, 1, S)
        mask = kp if mask is None else mask + kp
    p = float(dropout_p) if training else 0.0
    o, w = _attend(q_h, k_h, v_h, mask, 1.0 / math.sqrt(d), p, rng)
    out = linear(o.permute(0, 2, 1, 3).reshape(n, L, E), out_proj_weight, out_proj_bias)
    if not batch_first:
        out = out.transpose(0, 1)
    weights = (mean(w, dim=1) if average_attn_weights else w) if need_weights else None
    if unbatched:
        out = out.squeeze(0 if batch_first else 1)
        weights = weights.squeeze(0) if weights is not None else None
    return out, weights


def squeeze_excitation(x: Tensor, w1: Tensor, b1: Tensor | None, w2: Tensor, b2: Tensor | None) -> Tensor:
    r"""Squeeze-and-excitation (Hu et al., arXiv:1709.01507): channel attention.

    x (N, C, H, W), w1 (C_r, C), b1 (C_r,), w2 (C, C_r), b2 (C,) (biases may be None).
    s = mean_{H,W} x (N, C); z = relu(s w1^T + b1); g = sigmoid(z w2^T + b2) (N, C);
    y = x * g[:, :, None, None]. Composite of core ops (autograd does the backward).

    Example
    -------
    >>> import cvprimer as cp
    >>> squeeze_excitation(cp.randn(2, 8, 4, 4), cp.randn(2, 8), None, cp.randn(8, 2), None).shape
    (2, 8, 4, 4)
    """
    op = "squeeze_excitation"
    x = _tensor(op, "x", x)
    if x.ndim != 4:
        raise ValueError(f"{op}: x must be (N, C, H, W), got {x.shape}")
    c = x.shape[1]
    cr = w1.shape[0] if w1.ndim == 2 else -1
    bad = (w1.shape != (cr, c) or w2.shape != (c, cr) or (b1 is not None and b1.shape != (cr,))
           or (b2 is not None and b2.shape != (c,)))
    if bad:
        raise ValueError(f"{op}: for C = {c} expected w1 (C_r, {c}), b1 (C_r,), w2 ({c}, C_r), b2 ({c},); got "
                         f"{w1.shape}, {None if b1 is None else b1.shape}, {w2.shape}, "
                         f"{None if b2 is None else b2.shape}")
    g = sigmoid(linear(relu(linear(mean(x, dim=(2, 3)), w1, b1)), w2, b2))
    return x * g.reshape(x.shape[0], c, 1, 1)


def spatial_gate(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""CBAM's spatial attention (Woo et al., arXiv:1807.06521).

    x (N, C, H, W); weight (1, 2, k, k) with k odd; bias (1,) or None.
    a = [mean_C x, max_C x] (N, 2, H, W); g = sigmoid(conv2d(a, weight, bias, padding=k // 2))
    (N, 1, H, W); y = x * g. Composite; the channel max sends its gradient to the maximal
    channel (ties split evenly, like ``torch.amax``).

    Example
    -------
    >>> import cvprimer as cp
    >>> spatial_gate(cp.randn(2, 8, 6, 6), cp.randn(1, 2, 7, 7)).shape
    (2, 8, 6, 6)
    """
    from cvprimer.functional.conv import conv2d

    op = "spatial_gate"
    x = _tensor(op, "x", x)
    if x.ndim != 4:
        raise ValueError(f"{op}: x must be (N, C, H, W), got {x.shape}")
    if weight.ndim != 4 or weight.shape[:2] != (1, 2) or weight.shape[2] != weight.shape[3] or weight.shape[2] % 2 == 0:
        raise ValueError(f"{op}: weight must be (1, 2, k, k) with k odd, got {weight.shape}")
    a = cat([mean(x, dim=1, keepdim=True), amax(x, dim=1, keepdim=True)], dim=1)
    return x * sigmoid(conv2d(a, weight, bias, padding=weight.shape[2] // 2))


def cost(q_shape: tuple[int, ...], k_shape: tuple[int, ...], v_shape: tuple[int, ...],
         itemsize: int = 4) -> Cost:
    """Counts for scaled dot-product attention: Q K^T (L S E MACs a batch) and P V
    (L S E_v MACs), about 5 FLOPs an attention weight for scale + softmax; reads Q, K, V,
    writes O (the L x S weights are not counted as moved)."""
    b = int(np.prod(np.broadcast_shapes(q_shape[:-2], k_shape[:-2])))
    L, E, S, Ev = q_shape[-2], q_shape[-1], k_shape[-2], v_shape[-1]
    moved = b * (L * E + S * E + S * Ev + L * Ev)
    return Cost(b * L * S * (E + Ev), 5 * b * L * S, moved * itemsize)
