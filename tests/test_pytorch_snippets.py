"""A PyTorch user's everyday snippets run unchanged on cvprimer (issue 26).

Each snippet below is written once, in PyTorch's spelling, and executed twice: once with the names bound to
PyTorch (``torch``, ``nn``, ``F``, ``optim``, ``lr_scheduler``, ``DataLoader``, ``TensorDataset``) and once with
the same names bound to cvprimer (``import cvprimer as torch``, ``from cvprimer import nn``, ...). Only the
imports differ. A snippet stores what it computed in ``out``; the test compares the two ``out`` dicts key by key.

Shared inputs (arrays, initial weights) come from one seeded NumPy generator, so both runs start from the same
numbers. Tolerance: float32 results agree to ``RTOL``/``ATOL``; multi-step training snippets compound rounding
(different summation orders in GEMMs and reductions), so they are compared at ``TRAIN_RTOL``, which is still three
orders of magnitude below the changes a wrong gradient or optimizer rule produces in these few steps.
"""

from __future__ import annotations

import copy
import textwrap
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-5, 1e-6
TRAIN_RTOL, TRAIN_ATOL = 1e-4, 1e-5


def _torch_names() -> dict[str, Any]:
    import torch.nn.functional as tF
    from torch import nn as tnn
    from torch import optim as toptim
    from torch.optim import lr_scheduler as tsched
    from torch.utils.data import DataLoader as TLoader
    from torch.utils.data import TensorDataset as TDataset

    return {"torch": torch, "nn": tnn, "F": tF, "optim": toptim, "lr_scheduler": tsched,
            "DataLoader": TLoader, "TensorDataset": TDataset}


def _cvprimer_names() -> dict[str, Any]:
    import cvprimer
    import cvprimer.functional as cF
    from cvprimer import nn as cnn
    from cvprimer import optim as coptim
    from cvprimer.data import DataLoader as CLoader
    from cvprimer.data import TensorDataset as CDataset
    from cvprimer.optim import lr_scheduler as csched

    return {"torch": cvprimer, "nn": cnn, "F": cF, "optim": coptim, "lr_scheduler": csched,
            "DataLoader": CLoader, "TensorDataset": CDataset}


def _inputs() -> dict[str, Any]:
    rng = np.random.default_rng(26)
    f32 = np.float32
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                 torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 3))
    with torch.no_grad():
        tmodel[1].running_mean.uniform_(-0.5, 0.5)
        tmodel[1].running_var.uniform_(0.5, 2.0)
    return {
        "X": rng.standard_normal((16, 64)).astype(f32),
        "Y": rng.integers(0, 10, 16).astype(np.int64),
        "L": rng.standard_normal((20, 5)).astype(f32),
        "YL": rng.integers(0, 5, 20).astype(np.int64),
        "IMG": rng.standard_normal((6, 1, 8, 8)).astype(f32),
        "W1": (rng.standard_normal((64, 8)) * 0.3).astype(f32),
        "MLP": {"0.weight": (rng.standard_normal((32, 64)) * 0.1).astype(f32),
                "0.bias": (rng.standard_normal(32) * 0.1).astype(f32),
                "2.weight": (rng.standard_normal((10, 32)) * 0.1).astype(f32),
                "2.bias": (rng.standard_normal(10) * 0.1).astype(f32)},
        "SMALL": {"0.weight": (rng.standard_normal((3, 4)) * 0.5).astype(f32),
                  "0.bias": (rng.standard_normal(3) * 0.5).astype(f32),
                  "2.weight": (rng.standard_normal((2, 3)) * 0.5).astype(f32),
                  "2.bias": (rng.standard_normal(2) * 0.5).astype(f32)},
        "CONV_SD": {k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()},
    }


def _plain(v: Any) -> Any:
    """A snippet's value as NumPy / Python data, whichever library made it."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "detach") and hasattr(v, "shape"):
        return np.asarray(v.detach().numpy())
    return v


def _run(snippet: str, names: dict[str, Any], tmp_path: Any, tag: str, inputs: dict[str, Any]) -> dict[str, Any]:
    ns = {**names, **copy.deepcopy(inputs), "np": np, "PATH": str(tmp_path / f"ckpt-{tag}.pt"), "out": {}}
    exec(compile(textwrap.dedent(snippet), f"<snippet:{tag}>", "exec"), ns)  # noqa: S102 (our own test source)
    return _plain(ns["out"])


def _same(a: Any, b: Any, rtol: float, atol: float, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), f"{where}: keys {sorted(b)} vs {sorted(a)}"
        for k in a:
            _same(a[k], b[k], rtol, atol, f"{where}[{k!r}]")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: {b!r} vs {a!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, rtol, atol, f"{where}[{i}]")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a_, b_ = np.asarray(a), np.asarray(b)
        assert a_.shape == b_.shape, f"{where}: shape {b_.shape} vs PyTorch's {a_.shape}"
        assert a_.dtype.kind == b_.dtype.kind, f"{where}: dtype {b_.dtype} vs PyTorch's {a_.dtype}"
        np.testing.assert_allclose(b_, a_, rtol=rtol, atol=atol, err_msg=where)
    elif isinstance(a, float):
        assert isinstance(b, (float, int)), f"{where}: {b!r} vs PyTorch's {a!r}"
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=where)
    else:
        assert a == b and type(a) is type(b), f"{where}: {b!r} ({type(b).__name__}) vs PyTorch's {a!r}"


SNIPPETS: dict[str, tuple[str, bool]] = {}  # name -> (source, is a multi-step training snippet)


def snippet(name: str, training: bool = False):  # noqa: ANN201
    def deco(src: str) -> str:
        SNIPPETS[name] = (src, training)
        return src
    return deco


snippet("autograd")("""
    x = torch.tensor(X[:4, :5], requires_grad=True)
    w = torch.tensor(W1[:5, :3], requires_grad=True)
    y = (x @ w).relu().sum()
    y.backward()
    out['y'] = y.item()
    out['gx'] = x.grad
    out['gw'] = w.grad
    out['leaf'] = [x.is_leaf, y.is_leaf, y.requires_grad]
""")

snippet("accuracy_with_eq")("""
    logits = torch.tensor(L)
    labels = torch.tensor(YL)
    pred = logits.argmax(dim=1)
    out['acc'] = (pred == labels).float().mean().item()
    out['np_acc'] = float(np.mean((pred == labels).numpy()))
    out['wrong'] = (pred != labels).sum().item()
    out['eq_scalar'] = (labels == 2).sum().item()
    out['hashable'] = len({pred, labels, pred})
""")

snippet("mlp_cross_entropy_sgd", training=True)("""
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    model.load_state_dict({k: torch.tensor(v) for k, v in MLP.items()})
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    losses = []
    for step in range(5):
        optimizer.zero_grad()
        loss = criterion(model(torch.tensor(X)), torch.tensor(Y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    out['losses'] = np.array(losses)
    out['w'] = model[0].weight
    out['b'] = model[2].bias
""")

snippet("convnet_train_then_eval", training=True)("""
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    model.load_state_dict({k: torch.tensor(v) for k, v in CONV_SD.items()})
    x = torch.tensor(IMG)
    model.eval()
    out['eval'] = model(x)
    model.train()
    loss = F.cross_entropy(model(x), torch.tensor(Y[:6] % 3), label_smoothing=0.1)
    loss.backward()
    out['loss'] = loss.item()
    out['gconv'] = model[0].weight.grad
    out['running_mean'] = model[1].running_mean
    out['n_params'] = sum(p.numel() for p in model.parameters())
""")

snippet("save_nested_checkpoint")("""
    model = nn.Linear(4, 3)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model(torch.tensor(X[:2, :4])).sum().backward()
    optimizer.step()
    torch.save({'model': model.state_dict(), 'opt': optimizer.state_dict(), 'epoch': 3, 'note': 'best'}, PATH)
    back = torch.load(PATH)
    fresh = nn.Linear(4, 3)
    fresh.load_state_dict(back['model'])
    out['epoch'] = back['epoch']
    out['note'] = back['note']
    out['same_w'] = bool((fresh.weight == model.weight).all())
    out['lr'] = back['opt']['param_groups'][0]['lr']
""")

snippet("no_grad_inference_mode")("""
    x = torch.tensor(X[:2, :3], requires_grad=True)
    with torch.no_grad():
        y = x * 2
    with torch.inference_mode():
        z = x + 1
    out['flags'] = [y.requires_grad, z.requires_grad, torch.is_grad_enabled()]
    out['y'] = y
    out['z'] = z
""")

snippet("devices")("""
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    model = nn.Linear(3, 2).to(device)
    x = torch.tensor(X[:2, :3]).to(device)
    out['device'] = str(device)
    out['cuda'] = torch.cuda.is_available()
    out['x_device'] = str(x.device)
    out['shape'] = tuple(model(x).shape)
    out['back'] = x.cpu()
""")

snippet("in_place_and_manual_sgd", training=True)("""
    w = torch.tensor(W1[:3, :2], requires_grad=True)
    data = torch.tensor(X[:4, :3])
    for _ in range(3):
        loss = (data @ w).pow(2).mean()
        loss.backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
            w.clamp_(-0.2, 0.2)
        w.grad.zero_()
    out['w'] = w
    out['grad'] = w.grad
    a = torch.zeros(3)
    a.add_(1).mul_(3).sub_(0.5).div_(2)
    b = torch.ones(3)
    b.copy_(a)
    c = torch.zeros(2).fill_(7)
    out['a'] = a
    out['b'] = b
    out['c'] = c
""")

snippet("dtypes_and_numpy")("""
    x = torch.tensor(X[:2, :3])
    d = x.to(torch.float64)
    f = d.float()
    out['dtypes'] = [str(x.dtype).split('.')[-1], str(d.dtype).split('.')[-1], str(f.dtype).split('.')[-1],
                     str(x.double().dtype).split('.')[-1], str(x.long().dtype).split('.')[-1]]
    out['np'] = x.cpu().numpy()
    out['like'] = x.to(torch.zeros(1, dtype=torch.float64))
    out['item'] = d.sum().item()
""")

snippet("tensor_hooks")("""
    x = torch.tensor(X[:3, :4], requires_grad=True)
    h = x * 2
    seen = []
    handle = h.register_hook(lambda g: seen.append(g.detach().clone()))
    h.register_hook(lambda g: g * 3)
    (h * h).sum().backward()
    handle.remove()
    out['seen'] = seen[0]
    out['gx'] = x.grad
""")

snippet("module_backward_hooks")("""
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    model.load_state_dict({k: torch.tensor(v) for k, v in SMALL.items()})
    grads = []
    def hook(module, grad_input, grad_output):
        grads.append(grad_output[0].detach().clone())
    handles = [m.register_full_backward_hook(hook) for m in model if isinstance(m, nn.Linear)]
    model(torch.tensor(X[:5, :4])).pow(2).sum().backward()
    for hd in handles:
        hd.remove()
    out['last_layer_gout'] = grads[0]
    out['first_layer_gout'] = grads[1]
""")

snippet("dataloader")("""
    ds = TensorDataset(torch.tensor(X[:10]), torch.tensor(Y[:10]))
    loader = DataLoader(ds, batch_size=4, shuffle=False, drop_last=True, num_workers=2)
    batches = [(xb, yb) for xb, yb in loader]
    out['n'] = len(batches)
    out['first_x'] = batches[0][0]
    out['labels'] = [yb for _, yb in batches]
    def count(items):
        return len(items)
    out['sizes'] = list(DataLoader(ds, batch_size=3, collate_fn=count))
    out['len'] = [len(ds), len(loader)]
""")

snippet("clip_grad_norm")("""
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    model.load_state_dict({k: torch.tensor(v) for k, v in SMALL.items()})
    (model(torch.tensor(X[:5, :4])).pow(2).sum() * 100).backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    out['total'] = float(total)
    out['g0'] = model[0].weight.grad
    out['g2'] = model[2].bias.grad
""")

snippet("sequential_and_chained_lr")("""
    p = nn.Parameter(torch.zeros(2))
    opt = optim.SGD([p], lr=0.1)
    warm = lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    cos = lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    sched = lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[3])
    lrs = []
    for _ in range(8):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    out['sequential'] = np.array(lrs)
    q = nn.Parameter(torch.zeros(2))
    opt2 = optim.SGD([q], lr=1.0)
    chained = lr_scheduler.ChainedScheduler([lr_scheduler.ExponentialLR(opt2, gamma=0.9),
                                             lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)])
    lrs2 = []
    for _ in range(6):
        opt2.step()
        chained.step()
        lrs2.append(opt2.param_groups[0]['lr'])
    out['chained'] = np.array(lrs2)
""")

snippet("train_eval_state_dict")("""
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5), nn.Linear(3, 2))
    model.load_state_dict({k: torch.tensor(v) for k, v in SMALL.items()})
    model.eval()
    x = torch.tensor(X[:5, :4])
    out['eval'] = model(x)
    out['modes'] = [model.training, model[1].training]
    model.train()
    out['train_modes'] = [model.training, model[1].training]
    copy = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5), nn.Linear(3, 2))
    copy.load_state_dict(model.state_dict())
    copy.eval()
    out['copy_eval'] = copy(x)
    out['keys'] = sorted(model.state_dict().keys())
    out['named'] = [n for n, _ in model.named_parameters()]
""")

snippet("adam_and_param_groups", training=True)("""
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    model.load_state_dict({k: torch.tensor(v) for k, v in MLP.items()})
    optimizer = optim.Adam([{'params': model[0].parameters()},
                            {'params': model[2].parameters(), 'lr': 1e-2}], lr=1e-3, weight_decay=1e-4)
    for step in range(4):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(torch.tensor(X)), torch.tensor(Y))
        loss.backward()
        optimizer.step()
        if step == 1:
            for g in optimizer.param_groups:
                g['lr'] = g['lr'] * 0.5
    out['loss'] = loss.item()
    out['w0'] = model[0].weight
    out['w2'] = model[2].weight
    out['lrs'] = [g['lr'] for g in optimizer.param_groups]
""")

snippet("functional_ops")("""
    logits = torch.tensor(L, requires_grad=True)
    target = torch.tensor(YL)
    loss = F.nll_loss(F.log_softmax(logits, dim=1), target) + F.mse_loss(F.softmax(logits, dim=-1),
                                                                          F.one_hot(target, 5).float())
    loss.backward()
    out['loss'] = loss.item()
    out['grad'] = logits.grad
    out['probs_sum'] = F.softmax(logits, dim=1).sum(dim=1).detach()
""")

snippet("shape_manipulation")("""
    x = torch.tensor(X[:6, :4])
    out['view'] = x.view(2, -1)
    out['permute'] = x.reshape(2, 3, 4).permute(2, 0, 1)
    out['cat'] = torch.cat([x, x], dim=1)
    out['stack'] = torch.stack([x, x]).shape[0]
    out['unsq'] = tuple(x.unsqueeze(0)[:, None].shape)
    values, indices = x.max(dim=1)
    out['max'] = values
    out['argmax'] = torch.max(x, 1)[1]
    out['t'] = x.t()
    out['T'] = x.T
    out['sizes'] = [x.size(0), x.shape[1], x.numel(), x.dim()]
    out['contig'] = x.transpose(0, 1).contiguous()
    out['flat'] = torch.flatten(x.reshape(2, 3, 4), start_dim=1)
""")


def test_eighteen_snippets() -> None:
    assert len(SNIPPETS) == 18, sorted(SNIPPETS)


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_snippet_runs_unchanged(name: str, tmp_path: Any) -> None:
    src, training = SNIPPETS[name]
    torch.manual_seed(0)
    inputs = _inputs()  # once: both runs start from the same numbers
    want = _run(src, _torch_names(), tmp_path, "torch", inputs)
    got = _run(src, _cvprimer_names(), tmp_path, "cvprimer", inputs)
    rtol, atol = (TRAIN_RTOL, TRAIN_ATOL) if training else (RTOL, ATOL)
    _same(want, got, rtol, atol, name)


def test_harness_notices_a_difference(tmp_path: Any) -> None:
    """The comparison is not vacuous: a snippet that differs between the libraries fails it."""
    src = "out['v'] = torch.tensor(X[:2, :2]) * (2.0 if torch.__name__ == 'torch' else 2.001)"
    inputs = _inputs()
    want = _run(src, _torch_names(), tmp_path, "torch", inputs)
    got = _run(src, _cvprimer_names(), tmp_path, "cvprimer", inputs)
    with pytest.raises(AssertionError):
        _same(want, got, RTOL, ATOL, "planted")
