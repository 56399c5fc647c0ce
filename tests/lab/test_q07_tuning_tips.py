"""q07 (a page): its declaration and texts (no measured result in the body), the small helpers it drives the
library with, and a tiny real run whose schedule is recomputed in closed form and with torch's LambdaLR."""

import numpy as np
import torch

import cvprimer as cp
from cvprimer import optim
from cvprimer.lab.experiments.q07_tuning_tips import LrLog, TuningTips, _repeat, mlp
from cvprimer.optim import lr_scheduler, schedules
from labcheck import run_tiny


def test_is_a_page_with_bilingual_paragraphs():
    TuningTips.check()
    assert TuningTips.kind == "page"
    en, zh = TuningTips.t("body", "en").split("\n\n"), TuningTips.t("body", "zh").split("\n\n")
    assert len(en) == len(zh) >= 5 and all(p.strip() for p in en + zh)
    assert "range test" in TuningTips.t("body") and "学习率范围测试" in TuningTips.t("body", "zh")


def test_lr_log_records_the_warmup_cosine_schedule():
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = lr_scheduler.ScheduleLR(opt, lambda b: schedules.warmup("linear", 2, b).then(schedules.cosine(b, 4)))

    class T:
        optimizer = opt

    log = LrLog()
    for _ in range(6):
        opt.step()
        sched.step()
        log.on_after_step(T())
    np.testing.assert_allclose(log.lrs, [0.05, 0.1, 0.1 * (1 + np.cos(np.pi / 4)) / 2, 0.05,
                                         0.1 * (1 + np.cos(3 * np.pi / 4)) / 2, 0.0], atol=1e-12)


def test_repeat_cycles_batches_as_tensors():
    loader = [(np.zeros((2, 1, 8, 8), np.float32), np.zeros(2, np.int64))]
    it = _repeat(loader, iter([(cp.tensor(loader[0][0]), cp.tensor(loader[0][1]))]))
    got = [next(it) for _ in range(4)]
    assert all(isinstance(x, cp.Tensor) and x.shape == (2, 1, 8, 8) for x, _ in got)


def test_body_states_no_result():
    for lang in ("en", "zh"):
        body = TuningTips.t("body", lang)
        assert "trains well" not in body and "不需要再做搜索" not in body
    assert TuningTips.reachable == () and TuningTips.thresholds == {}


def test_run_schedule_matches_closed_form_and_torch():
    res = run_tiny(TuningTips)
    f = res.values()
    base, w, total = f["suggested_lr"], int(f["schedule_warmup_steps"]), int(f["schedule_steps"])

    def closed(t: int) -> float:  # the rate used at step t (0-based): linear warm-up from 0, then cosine to 0
        return base * t / w if t < w else base * (1 + np.cos(np.pi * (t - w) / (total - w))) / 2

    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: closed(t) / base)
    used = []
    for _ in range(total):
        used.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    for key, t in (("schedule_lr_first", 0), ("schedule_lr_warmup_end", w - 1),
                   ("schedule_lr_mid_decay", (w + total) // 2 - 1)):
        np.testing.assert_allclose(f[key], closed(t), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(f[key], used[t], rtol=1e-9, atol=1e-15)
    assert 1e-5 <= base <= 10 and all(0 <= f[k] <= 1 for k in ("val_acc_constant", "val_acc_warmup_cosine"))
    assert str(round(f["val_acc_constant"], 3))[:4] in res.notes["en"]
