"""Stand-ins for the few AWS APIs moto does not implement, hooked into drumscribe's clients.

moto 5 has no S3 request-metrics configuration API: a PUT or GET ``?metrics`` falls through to
the bucket itself and a DELETE ``?metrics`` deletes the bucket. ``answer_request_metrics``
answers Put/Get/DeleteBucketMetricsConfiguration from a dict instead, as S3 would, on every client
made through ``drumscribe.aws.client`` (so in-process CLI runs see it too).
"""

from __future__ import annotations

import botocore.exceptions as bexc

from drumscribe import aws


class _Ok:
    status_code = 200
    headers: dict = {}
    content = b""
    text = ""
    raw = None


def answer_request_metrics(monkeypatch) -> dict:
    store: dict[tuple[str, str], dict] = {}
    real_client = aws.client

    def missing(bucket, config_id):
        return bexc.ClientError({"Error": {"Code": "NoSuchConfiguration", "Message": "The specified configuration does not exist."},
                                 "ResponseMetadata": {"HTTPStatusCode": 404}}, "GetBucketMetricsConfiguration")

    def remember(params, context, **_):  # before-call only sees the serialized request
        context["shim_params"] = dict(params)

    def put(context, **_):
        params = context["shim_params"]
        store[(params["Bucket"], params["Id"])] = params["MetricsConfiguration"]
        return _Ok(), {}

    def get(context, **_):
        params = context["shim_params"]
        key = (params["Bucket"], params["Id"])
        if key not in store:
            raise missing(*key)
        return _Ok(), {"MetricsConfiguration": store[key]}

    def delete(context, **_):
        params = context["shim_params"]
        if store.pop((params["Bucket"], params["Id"]), None) is None:
            raise missing(params["Bucket"], params["Id"])
        return _Ok(), {}

    def hooked(settings, service, **kwargs):
        client = real_client(settings, service, **kwargs)
        if service == "s3":
            for op, handler in (("Put", put), ("Get", get), ("Delete", delete)):
                client.meta.events.register(f"before-parameter-build.s3.{op}BucketMetricsConfiguration", remember)
                client.meta.events.register(f"before-call.s3.{op}BucketMetricsConfiguration", handler)
        return client

    monkeypatch.setattr(aws, "client", hooked)
    return store
