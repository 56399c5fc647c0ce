"""q07 (a page): its declaration and texts, and the small helpers it drives the library with."""

import numpy as np

import cvprimer as cp
from cvprimer import optim
from cvprimer.lab.experiments.q07_tuning_tips import LrLog, TuningTips, _repeat, mlp
from cvprimer.optim import lr_scheduler, schedules


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
