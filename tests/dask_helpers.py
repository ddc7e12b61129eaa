"""A real Dask LocalCluster against the moto server, for the batch and service tests."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FAKE_KEY_ID, FAKE_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # as tests/conftest.py


@contextlib.contextmanager
def local_cluster(moto_url: str, home: Path, n_workers: int):
    """A ``distributed.Client`` on ``n_workers`` single-threaded worker processes.

    They get the moto endpoint and fake credentials in their own environment, and nothing of the
    developer's: the bucket and user of each test come with its tasks, as on a real cluster.
    """
    import distributed
    import pytest

    env = {"AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": FAKE_KEY_ID, "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
           "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": str(home / "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
           "DRUMSCRIBE_HOME": str(home), "DRUMSCRIBE_CONFIG": str(home / "no-config.toml")}
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("AWS_", "DRUMSCRIBE_", "DASK_")):
                mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)  # worker processes a nanny restarts later inherit these too
        with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                      env=env) as cluster, distributed.Client(cluster) as client:
            yield client
