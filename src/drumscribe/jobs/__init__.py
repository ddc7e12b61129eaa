"""Jobs: one input transcribed and stored (``run``), and the finished jobs in storage (``store``).

``run.transcribe_and_store`` stores the original, transcribes it and writes the results;
``store.list_jobs`` / ``store.load_job`` read them back from whichever backend is active.
"""
