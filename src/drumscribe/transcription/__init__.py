"""Drum transcription: audio -> features -> network -> onsets -> events -> MIDI/JSON.

Each stage is a small module with a plain data type between stages:
``audio`` (decode, mono, resample) -> ``features`` (madmom spectrogram processors) ->
``network`` (our model, run by ``madmom.ml.nn``) -> ``peaks`` (onsets per instrument) ->
``velocity`` -> ``result`` (``Transcription``) -> ``midi``; ``beats`` runs madmom's beat tracker.
"""
