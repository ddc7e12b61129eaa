"""benchmarks/accuracy.py's "not snare, not hi-hat" count, on a made-up annotation folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("accuracy_benchmark", REPO / "benchmarks" / "accuracy.py")
accuracy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(accuracy)


def test_side_sticks_count_only_false_snares_and_hats_on_them(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "subclass").mkdir()
    # a hat struck with the side stick at 1.0, side sticks alone at 2.0 and 3.0, a tambourine at 4.0
    (tmp_path / "class" / "MusicDelta_Song_class.txt").write_text("1.0 HH\n1.0 OT\n2.0 OT\n3.0 OT\n4.0 OT\n")
    (tmp_path / "subclass" / "MusicDelta_Song_subclass.txt").write_text("1.0 CHH\n1.0 SST\n2.0 SST\n3.0 SST\n4.0 TMB\n")
    events = [SimpleNamespace(time=t, instrument=i) for t, i in
              [(1.01, "hihat_closed"),  # the real hat: found, not held against the side stick
               (2.02, "hihat_closed"),  # a side stick called hi-hat
               (3.0, "snare"), (3.01, "hihat_open"),  # one called both
               (4.0, "hihat_closed")]]  # the tambourine called hi-hat
    items = [("Song", tmp_path / "song.wav", tmp_path / "class" / "MusicDelta_Song_class.txt")]
    counts = accuracy.other_percussion_counts(items, [events])
    assert counts == {"side stick": {"annotated": 3, "SD": 1, "HH": 2},
                      "tambourine": {"annotated": 1, "SD": 0, "HH": 1}}
