"""Learning from a user's corrections: ``drumscribe tune``.

A user's edited jobs (``jobs/edits.py``) are labelled recordings of their kit, room and style. From
them ``tune`` fits a profile (``fit.py``: thresholds and offset, the model's last layer, or with
the ``train`` extra a fine-tuned copy of the model), keeps it only when leave-one-job-out
cross-validation says it helps, and stores it under ``models/{user}/`` (``profile.py``), where
``transcribe`` finds it for that user. ``training/`` stays the offline recipe of the shipped model;
this package runs for users.
"""
