"""diagnose() on scripted histories: each failure mode is found, a healthy run gives nothing."""

import numpy as np
import pytest

from cvprimer.train.diagnose import diagnose


def kinds(findings):
    return [f.kind for f in findings]


def test_healthy_run_has_no_findings():
    e = np.arange(10)
    h = {"train_loss": 2.0 * 0.7**e, "val_loss": 2.1 * 0.72**e, "train_acc": 1 - 0.5 * 0.6**e,
         "val_acc": 1 - 0.52 * 0.6**e}
    assert diagnose(h) == []


def test_overfitting_reports_the_epoch_it_began():
    h = [{"epoch": i + 1, "train_loss": 1.0 / (i + 1), "val_loss": v}
         for i, v in enumerate([1.0, 0.7, 0.5, 0.45, 0.5, 0.58, 0.66])]
    (f,) = diagnose(h)
    assert f.kind == "overfitting" and f.epoch == 5 and f.evidence["best_epoch"] == 4
    assert any("early stopping" in r for r in f.remedies)


def test_divergence_on_nan_and_on_rising_loss():
    (f,) = diagnose({"train_loss": [2.3, 5.0, np.nan, np.nan]})
    assert f.kind == "divergence" and f.epoch == 3
    assert kinds(diagnose({"train_loss": [2.3, 2.9, 4.0, 9.0]})) == ["divergence"]


def test_underfitting_and_stall():
    h = {"train_loss": [2.30, 2.299, 2.298, 2.297], "val_loss": [2.30, 2.30, 2.30, 2.30],
         "train_acc": [0.1, 0.11, 0.11, 0.12], "val_acc": [0.1, 0.1, 0.11, 0.11]}
    assert set(kinds(diagnose(h))) == {"underfitting", "stall"}


def test_oscillation_from_step_losses():
    steps = 1.0 + 0.5 * (-1.0) ** np.arange(40)
    assert "oscillation" in kinds(diagnose({"train_loss": [1.0, 1.0, 1.1]}, step_losses=steps))
    smooth = np.linspace(2, 0.5, 40)
    assert "oscillation" not in kinds(diagnose({"train_loss": [2.0, 1.0, 0.5]}, step_losses=smooth))


def test_gradient_monitors():
    ok = {"train_loss": [2.0, 1.0, 0.5]}
    vanish = {"grad_norms": {"layer1": [1e-6], "layer2": [1e-3], "layer3": [0.5]}}
    assert kinds(diagnose(ok, vanish)) == ["vanishing_gradients"]
    explode = {"grad_norms": {"layer1": [1e5], "layer2": [10.0]}}
    assert kinds(diagnose(ok, explode)) == ["exploding_gradients"]
    assert kinds(diagnose(ok, {"grad_norms": {"a": [np.inf], "b": [1.0]}})) == ["exploding_gradients"]
    assert kinds(diagnose(ok, {"dead_fraction": {"relu1": 0.9, "relu2": 0.1}})) == ["dead_units"]


def test_needs_train_loss():
    with pytest.raises(ValueError, match="train_loss"):
        diagnose({"val_loss": [1.0]})


def test_divergence_from_a_step_loss_spike():
    steps = [2.3, 2.4, 80.0, 5.0, 2.31, 2.30]
    (f,) = diagnose({"train_loss": [20.0, 2.3]}, step_losses=steps)
    assert f.kind == "divergence" and f.evidence["step"] == 2


def test_exact_training_accuracy_decides_underfitting_when_logged():
    """The running mean lags (weights moved during the epoch, dropout on); with train_eval='exact' the final
    weights' accuracy is what is compared with validation."""
    e = np.arange(6)
    base = {"train_loss": 1.5 * 0.8**e, "val_loss": 1.5 * 0.8**e, "val_acc": [0.4, 0.5, 0.6, 0.65, 0.7, 0.72],
            "train_acc": [0.4, 0.5, 0.6, 0.65, 0.68, 0.70]}           # running: below the default target 0.8
    assert "underfitting" in kinds(diagnose(base))
    exact = dict(base, train_acc_exact=[0.5, 0.6, 0.7, 0.75, 0.8, 0.85])  # the final weights: above it
    assert "underfitting" not in kinds(diagnose(exact))
    low = dict(base, train_acc=[0.5, 0.6, 0.7, 0.75, 0.8, 0.85], train_acc_exact=[0.4, 0.5, 0.6, 0.65, 0.68, 0.70])
    (f,) = [f for f in diagnose(low) if f.kind == "underfitting"]
    assert f.evidence["train_acc"] == pytest.approx(0.70)


def test_exact_training_loss_decides_whether_training_kept_falling():
    val = [1.0, 0.7, 0.5, 0.45, 0.5, 0.58, 0.66]
    running = [1.0 / (i + 1) for i in range(7)]                       # falls: overfitting
    assert kinds(diagnose({"train_loss": running, "val_loss": val})) == ["overfitting"]
    flat_exact = [1.0, 0.6, 0.45, 0.40, 0.41, 0.42, 0.43]             # the final weights stopped improving
    assert "overfitting" not in kinds(diagnose({"train_loss": running, "val_loss": val,
                                                 "train_loss_exact": flat_exact}))
