"""Views: a ``Transcription`` turned into something people read, look at or hear (``tab``...).

Each view is a function from a ``Transcription`` to text or bytes; the CLI only prints or saves it.
"""
