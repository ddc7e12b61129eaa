"""``drumscribe serve``: the web app (upload page, jobs, results, JSON API)."""

from __future__ import annotations

from typing import Optional

import typer

from drumscribe.cli.app import app, err, force_local, settings_from


@app.command("serve")
def serve_cmd(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="Address to listen on; anything but loopback needs DRUMSCRIBE_API_TOKEN or --insecure."),
    port: int = typer.Option(8000, "--port", metavar="PORT", min=0, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", metavar="N", min=1, max=32, help="Jobs transcribed at the same time (threads sharing one model)."),
    insecure: bool = typer.Option(False, "--insecure", help="Listen beyond this machine without an API token (trusted networks only)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", metavar="ADDRESS", envvar="DASK_SCHEDULER_ADDRESS", show_envvar=True,
                                          help="Run each job as a task on this Dask scheduler (tcp://HOST:8786), or `local` for a LocalCluster of --workers processes here. Needs S3 unless local."),
) -> None:
    """Serve the web app: drop a song on the page, it goes straight to the bucket and is transcribed.

    Open http://HOST:PORT/ in a browser; the API and its OpenAPI document are at /docs and /openapi.json.
    With S3, the bucket's CORS rules must allow the page: `drumscribe setup cors --origins http://HOST:PORT`.
    With --cluster, --workers is how many jobs run on the cluster at the same time.
    """
    from drumscribe.service.app import serve

    serve(host, port, insecure=insecure, workers=workers, settings=settings_from(ctx), prefer_local=force_local(ctx), cluster=cluster or None,
          announce=lambda line: err.print(line, markup=False))
