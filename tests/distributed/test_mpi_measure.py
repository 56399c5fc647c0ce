"""The lab-facing launchers: measure_step and gradient_agreement return sane reports from real 2-rank runs."""

import pytest

from cvprimer.distributed import bytes_per_step, measure_step
from cvprimer.lab._q32_worker import gradient_agreement
from cvprimer.models import get_model


def test_measure_step_two_ranks():
    m = measure_step("lenet5", ranks=2, batch_size=8, steps=2, warmup=0, timeout=120)
    assert m["ranks"] == 2 and m["threads"] == 1 and m["per_rank_batch"] == 4
    assert m["allreduce_bytes"] == bytes_per_step(get_model("lenet5"))["payload_bytes"]
    assert m["step_s"] > 0 and 0 <= m["comm_share"] <= 1 and 0 <= m["allreduce_share"] <= 1


def test_gradient_agreement_answers_question32():
    r = gradient_agreement(ranks=2, batch_per_rank=2, timeout=120)
    assert r["ranks"] == 2
    assert r["mean_loss"]["mean_over_ranks"] < 1e-13 and r["mean_loss"]["sum_over_ranks"] == pytest.approx(1.0)
    assert r["sum_loss"]["sum_over_ranks"] < 1e-13 and r["sum_loss"]["mean_over_ranks"] == pytest.approx(0.5)
