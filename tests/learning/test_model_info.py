"""transcription.json's `model` records a profile without changing documents that have none."""

from __future__ import annotations

import json

from drumscribe.transcription.result import ModelInfo, Transcription


def _doc(model: ModelInfo) -> dict:
    return json.loads(Transcription(events=(), tempo=None, model=model).to_json())


def test_without_a_profile_the_model_object_is_as_before():
    assert set(_doc(ModelInfo("drumscribe-tcn", "2.2.0"))["model"]) == {"name", "version", "classes", "thresholds", "offset"}


def test_a_profile_and_its_base_round_trip():
    model = ModelInfo("drumscribe-tcn", "2.2.0", ("kick",), {"kick": 0.3}, 0.01, profile="0123456789ab",
                      based_on="drumscribe-tcn 2.2.0")
    doc = _doc(model)
    assert doc["model"]["profile"] == "0123456789ab" and doc["model"]["based_on"] == "drumscribe-tcn 2.2.0"
    assert Transcription.from_dict(doc).model == model


def test_model_fields_a_newer_drumscribe_adds_are_ignored():
    doc = _doc(ModelInfo("drumscribe-tcn", "2.2.0"))
    doc["model"]["something_new"] = {"x": 1}
    assert Transcription.from_dict(doc).model == ModelInfo("drumscribe-tcn", "2.2.0")
