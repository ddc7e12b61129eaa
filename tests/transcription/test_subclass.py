"""Naming a detected hit: which hi-hat, tom or cymbal it is, from the model's finer outputs."""

from types import SimpleNamespace

import numpy as np

from drumscribe.transcription import subclass
import pytest

from drumscribe.errors import TranscriptionError
from drumscribe.transcription.network import detect_masks, ensemble_outputs

FINE = ["hihat_closed", "hihat_open", "tom_high", "tom_mid", "tom_low", "crash", "ride"]
GROUPS = {"hihat_closed": ["hihat_closed", "hihat_open"], "tom_mid": ["tom_high", "tom_mid", "tom_low"],
          "crash": ["crash", "ride"]}
CLASSES = ["kick", "snare", "hihat_closed", "tom_mid", "crash"]
PLAYED = {c: c for c in CLASSES}


def model(open_hat="learnt", fine=True):
    return SimpleNamespace(classes=CLASSES, fine_classes=FINE if fine else [], fine_groups=GROUPS if fine else {},
                           open_hat=open_hat)


def fine_outputs(frames=100, **at):
    """Finer activations: ``name=(frame, value)`` pairs, everything else 0.05."""
    act = np.full((frames, len(FINE)), 0.05, np.float32)
    for name, (frame, value) in at.items():
        act[frame, FINE.index(name)] = value
    return act


def test_a_tom_is_named_by_its_strongest_finer_output_near_the_peak():
    fine = fine_outputs(tom_low=(21, 0.7), tom_high=(20, 0.4), ride=(50, 0.6), crash=(50, 0.3))
    names = subclass.name_hits(["tom_mid", "crash", "kick"], ["tom_mid", "crash", "kick"], [20, 50, 20], fine, model())
    assert names == ["tom_low", "ride", "kick"]  # one frame late still counts; kick has no finer outputs


def test_open_hats_follow_the_network_or_the_ringing_rule_as_the_model_says():
    fine = fine_outputs(hihat_open=(30, 0.9), hihat_closed=(30, 0.2))
    flat = np.zeros((100, len(CLASSES)), np.float32)  # band curves that do not ring: the rule says closed
    learnt = subclass.play(["hihat_closed"], [30], fine, flat, model("learnt"), PLAYED)
    rule = subclass.play(["hihat_closed"], [30], fine, flat, model("rule"), PLAYED)
    assert learnt == ["hihat_open"] and rule == ["hihat_closed"]


def test_a_model_without_finer_outputs_keeps_its_class_names():
    names = subclass.name_hits(["tom_mid", "crash"], ["tom_mid", "crash"], [10, 20], np.zeros((100, 0)), model(fine=False))
    assert names == ["tom_mid", "crash"]


def test_naming_never_adds_or_drops_a_hit():
    rng = np.random.default_rng(0)
    fine = rng.random((300, len(FINE))).astype(np.float32)
    classes = list(rng.choice(CLASSES, 40))
    frames = list(rng.integers(0, 300, 40))
    names = subclass.play(classes, frames, fine, np.zeros((300, 5), np.float32), model(), PLAYED)
    assert len(names) == 40
    for cls, name in zip(classes, names):
        assert name in GROUPS.get(cls, [cls])


def test_an_ensemble_averages_classes_over_all_members_and_finer_outputs_over_those_with_them():
    a = np.full((4, 5), 0.2, np.float32)
    b = np.concatenate([np.full((4, 5), 0.6, np.float32), np.full((4, 7), 0.9, np.float32)], axis=1)
    out = ensemble_outputs(5)([a, b])
    assert out.shape == (4, 12)
    assert np.allclose(out[:, :5], 0.4) and np.allclose(out[:, 5:], 0.9)
    assert ensemble_outputs(5)([a, a]).shape == (4, 5)


def test_a_member_may_detect_some_classes_only():
    """A member may help detect some classes only (2.1 let the whole-kit network detect all but toms)."""
    a = np.full((4, 5), 0.2, np.float32)
    b = np.concatenate([np.full((4, 5), 0.8, np.float32), np.full((4, 7), 0.9, np.float32)], axis=1)
    members = [{}, {"detect": ["kick", "snare", "hihat_closed", "crash"]}]
    masks = detect_masks(CLASSES, members)
    assert masks == [(True,) * 5, (True, True, True, False, True)]
    out = ensemble_outputs(5, masks)([a, b])
    assert np.allclose(out[:, [0, 1, 2, 4]], 0.5)  # both members
    assert np.allclose(out[:, 3], 0.2)  # toms: the first member alone
    assert np.allclose(out[:, 5:], 0.9)
    assert detect_masks(CLASSES, [{}, {"detect": False}]) == [(True,) * 5, (False,) * 5]


def test_every_class_needs_a_member_that_detects_it():
    with pytest.raises(TranscriptionError, match="detects"):
        detect_masks(CLASSES, [{"detect": ["kick"]}, {"detect": False}])
    with pytest.raises(TranscriptionError, match="unknown"):
        detect_masks(CLASSES, [{}, {"detect": ["cowbell"]}])
