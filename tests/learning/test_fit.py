"""The tuning core: onset matching, thresholds from corrections, and the gate of issue 23."""

from __future__ import annotations

import numpy as np
import pytest

from drumscribe.learning import fit
from drumscribe.learning.examples import Example, class_of_instrument, reference_times
from drumscribe.learning.matching import Counts, match, mean_f


def test_the_matcher_finds_as_many_hits_as_mir_eval():
    mir_eval = pytest.importorskip("mir_eval")
    rng = np.random.default_rng(0)
    for _ in range(300):
        ref = np.sort(rng.uniform(0, 5, rng.integers(0, 40)))
        found = ref[rng.random(len(ref)) < 0.7]
        est = np.sort(np.concatenate([found + rng.normal(0, 0.03, len(found)), rng.uniform(0, 5, rng.integers(0, 10))]))
        pairs = match(ref, est, 0.05)
        assert len(pairs) == len(mir_eval.util.match_events(ref, est, 0.05))
        assert all(abs(ref[i] - est[j]) <= 0.05 + 1e-9 for i, j in pairs)
        assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs)


def test_f_conventions():
    assert Counts().f == 1.0  # nothing to find, nothing found
    assert Counts(fp=3).f == 0.0 and Counts(fn=2).f == 0.0
    k = Counts().add([1.0, 2.0, 3.0], [1.01, 2.2, 3.03])
    assert (k.tp, k.fp, k.fn) == (2, 1, 1) and k.f == pytest.approx(2 / 3)
    assert mean_f({"a": Counts(tp=1), "b": Counts(fp=1)}) == 0.5


def test_instruments_map_to_the_model_class_that_detects_them():
    to_class = class_of_instrument(["kick", "snare", "hihat_closed", "tom_mid", "crash"])
    assert to_class["tom_low"] == to_class["tom_high"] == "tom_mid"
    assert to_class["ride"] == "crash" and to_class["hihat_open"] == to_class["hihat_pedal"] == "hihat_closed"
    assert "side_stick" not in to_class  # no class detects it: neither a hit nor a miss

    class E:
        def __init__(self, t, i):
            self.time, self.instrument = t, i

    refs = reference_times([E(1.0, "tom_low"), E(1.0002, "tom_mid"), E(2.0, "side_stick"), E(9.0, "kick")],
                           ["kick", "tom_mid"], duration=5.0)
    assert list(refs["tom_mid"]) == [1.0] and list(refs["kick"]) == []  # a tom pair is one onset; past the end: gone


class Model:
    classes = ["kick"]
    thresholds = {"kick": 0.5}
    offset = 0.0
    fps = 100
    min_distance = 0.025


def _example(peaks: dict[int, float], refs: list[float], frames: int = 500, name: str = "job") -> Example:
    act = np.zeros((frames, 1), np.float32)
    for f, h in peaks.items():
        act[f, 0] = h
    return Example(name, frames / 100, {"kick": np.array(refs)}, act, None)


def test_peaks_kept_at_a_threshold_are_those_kept_lower_that_reach_it():
    from drumscribe.transcription.peaks import detect_onsets

    rng = np.random.default_rng(1)
    act = np.clip(rng.random((800, 1)) ** 3, 0, 1).astype(np.float32)
    cand = fit.candidates(act, Model(), 0.0, 8.0)
    for th in fit.GRID:
        direct = [o.time for o in detect_onsets(act, Model(), thresholds={"kick": th}, offset=0.0)]
        assert np.allclose(cand.above("kick", th), direct)


def test_thresholds_move_only_when_the_held_out_jobs_agree():
    # three jobs whose true kicks peak at 0.3, with false peaks at 0.2: every job wants about 0.25
    jobs = [_example({100: 0.3, 200: 0.3, 300: 0.2}, [1.0, 2.0], name=f"j{k}") for k in range(3)]
    chosen = fit.fit_thresholds([j.acts for j in jobs], jobs, Model(), 0.0, {"kick": 0.5})
    assert 0.2 < chosen["kick"] <= 0.3
    # one job wants it low, the others are indifferent: F within the tolerance, so it stays
    flat = [_example({100: 0.9}, [1.0], name="a"), _example({100: 0.9}, [1.0], name="b"),
            _example({100: 0.9, 200: 0.3}, [1.0, 2.0], name="c")]
    lone = fit.fit_thresholds([j.acts for j in flat], flat, Model(), 0.0, {"kick": 0.5})
    assert lone["kick"] == 0.5


def test_the_offset_follows_the_corrections_convention():
    jobs = [_example({f: 0.9 for f in range(20, 480, 20)}, [f / 100 + 0.012 for f in range(20, 480, 20)], name=f"j{k}")
            for k in range(2)]
    fitted = fit.fit_thresholds_kind(jobs, Model())
    assert fitted.offset == pytest.approx(0.012, abs=0.0011)


def _counts(f_by_class: dict[str, tuple[int, int, int]]) -> dict[str, Counts]:
    return {c: Counts(*v) for c, v in f_by_class.items()}


def test_the_gate():
    before = _counts({"kick": (90, 10, 10), "tom": (5, 5, 5)})
    hits = {"kick": 100, "tom": 10}
    assert fit.gate(before, _counts({"kick": (95, 5, 5), "tom": (5, 5, 5)}), hits) is None
    assert "does not rise" in fit.gate(before, before, hits)
    # a class with 20 or more corrected hits may not lose more than 0.01 F, even for a higher mean
    why = fit.gate(before, _counts({"kick": (87, 13, 13), "tom": (10, 0, 0)}), hits)
    assert why.startswith("kick (100 corrected hits) drops by 0.030")
    # a class with fewer may (the mean still has to rise)
    assert fit.gate(before, _counts({"kick": (99, 1, 1), "tom": (4, 5, 6)}), hits) is None


def test_choose_prefers_the_simpler_kind_on_a_tie_and_keeps_the_defaults_when_none_passes():
    before = _counts({"kick": (90, 10, 10)})
    better = _counts({"kick": (95, 5, 5)})
    cv = fit.CrossValidation(["kick"], before, {"thresholds": better, "last_layer": better})
    assert fit.choose(cv, {"kick": 100}).kind == "thresholds"
    cv.after["last_layer"] = _counts({"kick": (99, 1, 1)})
    assert fit.choose(cv, {"kick": 100}).kind == "last_layer"
    worse = fit.CrossValidation(["kick"], before, {"thresholds": _counts({"kick": (80, 20, 20)})})
    assert fit.choose(worse, {"kick": 100}).kind == fit.DEFAULTS


def test_a_corrected_hit_is_trained_on_the_networks_peak_near_it():
    act = np.zeros(100, np.float32)
    act[50] = 0.6
    act[52] = 0.3
    # a hit the editor put on the grid 30 ms late; one where the network saw nothing stays put
    assert list(fit.aligned_frames(np.array([0.537, 0.90]), act, 100, 0.007)) == [50, 89]
