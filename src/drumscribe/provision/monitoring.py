"""``setup monitoring``: alarms for the bucket, sent by email through an SNS topic.

The guide: "monitor bucket size and request metrics in CloudWatch; set up alarms for unusual
activity". This step creates

* an SNS topic ``drumscribe-alerts-<bucket>`` with the address subscribed by email (AWS sends a
  confirmation mail; nothing is delivered until the link in it is followed);
* an S3 request-metrics configuration ``EntireBucket`` (request metrics are off by default);
* CloudWatch alarms ``drumscribe-<bucket>-<what>`` with the topic as their action:
  bucket size (``BucketSizeBytes``, a free daily storage metric), 4xx and 5xx errors, download
  volume (``BytesDownloaded``) and request count (``AllRequests``), thresholds from ``Thresholds``.

What it costs (us-east-1 list prices, 2025): request metrics are billed as CloudWatch custom
metrics, $0.30 per metric per month, and one configuration publishes up to 16 metrics, so at most
about $4.80 a month (metrics are only published, and billed, for hours with requests); each alarm
is $0.10 a month (5 alarms: $0.50); SNS email: the first 1,000 notifications a month are free.
``remove=True`` deletes the alarms, the metrics configuration (which stops its cost) and the topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drumscribe.errors import ConfigError
from drumscribe.provision.base import Plan, Recorder, StepResult, read_or_none

METRICS_ID = "EntireBucket"
GIB = 1024**3
COST_NOTE = "up to $4.80/month: 16 CloudWatch metrics at $0.30, billed only for hours with requests; alarms $0.10/month each"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Thresholds:
    """When each alarm fires. Defaults suit one small team; raise them for a busy service."""

    size_gb: float = 50.0  # StandardStorage bytes, daily average
    errors_4xx: int = 100  # per 5 minutes (a 404 on a missing key counts: a few are normal)
    errors_5xx: int = 10  # per 5 minutes
    download_gb_per_hour: float = 5.0  # BytesDownloaded, summed over an hour
    requests: int = 5000  # AllRequests per 5 minutes

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"alarm threshold {name} must be a positive number, got {value!r}")


def topic_name(bucket: str) -> str:
    return "drumscribe-alerts-" + re.sub(r"[^A-Za-z0-9_-]", "-", bucket)  # SNS names take no dots


def alarm_prefix(bucket: str) -> str:
    return f"drumscribe-{bucket}-"


def alarms(bucket: str, topic_arn: str, t: Thresholds) -> list[dict]:
    """The put_metric_alarm parameters of every alarm."""
    request_dims = [{"Name": "BucketName", "Value": bucket}, {"Name": "FilterId", "Value": METRICS_ID}]

    def alarm(what: str, metric: str, statistic: str, period: int, threshold: float, dims: list[dict], description: str) -> dict:
        return {
            "AlarmName": alarm_prefix(bucket) + what,
            "AlarmDescription": f"drumscribe: {description}",
            "Namespace": "AWS/S3",
            "MetricName": metric,
            "Dimensions": dims,
            "Statistic": statistic,
            "Period": period,
            "EvaluationPeriods": 1,
            "Threshold": float(threshold),
            "ComparisonOperator": "GreaterThanThreshold",
            # request metrics are only published for periods with requests: silence is not an alarm
            "TreatMissingData": "notBreaching",
            "AlarmActions": [topic_arn],
        }

    return [
        alarm("bucket-size", "BucketSizeBytes", "Average", 86400, t.size_gb * GIB,
              [{"Name": "BucketName", "Value": bucket}, {"Name": "StorageType", "Value": "StandardStorage"}],
              f"bucket holds more than {t.size_gb:g} GB"),
        alarm("4xx-errors", "4xxErrors", "Sum", 300, t.errors_4xx, request_dims, f"more than {t.errors_4xx} client errors in 5 minutes"),
        alarm("5xx-errors", "5xxErrors", "Sum", 300, t.errors_5xx, request_dims, f"more than {t.errors_5xx} server errors in 5 minutes"),
        alarm("download-volume", "BytesDownloaded", "Sum", 3600, t.download_gb_per_hour * GIB, request_dims,
              f"more than {t.download_gb_per_hour:g} GB downloaded in an hour (unusual activity)"),
        alarm("request-count", "AllRequests", "Sum", 300, t.requests, request_dims, f"more than {t.requests} requests in 5 minutes (unusual activity)"),
    ]


_COMPARED = ("Namespace", "MetricName", "Statistic", "Period", "EvaluationPeriods", "Threshold", "ComparisonOperator", "TreatMissingData", "AlarmActions", "AlarmDescription")


def alarm_matches(current: dict | None, want: dict) -> bool:
    if current is None:
        return False
    dims = lambda a: sorted((d["Name"], d["Value"]) for d in a.get("Dimensions", []))  # noqa: E731
    return all(current.get(k) == want[k] for k in _COMPARED) and dims(current) == dims(want)


def find_topic(plan: Plan) -> str | None:
    name = topic_name(plan.bucket)
    for page in plan.sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                return topic["TopicArn"]
    return None


def email_subscriptions(plan: Plan, topic_arn: str) -> list[dict]:
    subs = []
    for page in plan.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        subs += [s for s in page.get("Subscriptions", []) if s.get("Protocol") == "email"]
    return subs


def current_alarms(plan: Plan) -> dict[str, dict]:
    found = {}
    for page in plan.cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=alarm_prefix(plan.bucket)):
        found.update({a["AlarmName"]: a for a in page.get("MetricAlarms", [])})
    return found


def _metrics_configured(plan: Plan) -> bool:
    got = read_or_none(plan.s3.get_bucket_metrics_configuration, ("NoSuchConfiguration",), plan=plan,
                       what="read request metrics of", Bucket=plan.bucket, Id=METRICS_ID)
    # a filter would limit the metrics to a prefix or tag; ours covers the whole bucket
    return got is not None and not (got.get("MetricsConfiguration") or {}).get("Filter")


def step_monitoring(plan: Plan, email: str | None = None, thresholds: Thresholds | None = None, *, remove: bool = False) -> StepResult:
    if remove:
        return _remove(plan)
    if not email or not _EMAIL.match(email):
        raise ConfigError(f"{email!r} is not an email address" if email else "no email address for the alerts", hint="pass --email you@example.com")
    thresholds = thresholds or Thresholds()
    sns, s3, cw = Recorder(plan, "sns"), Recorder(plan, "s3"), Recorder(plan, "cloudwatch")
    changes: list[str] = []
    metrics_on = _metrics_configured(plan)  # first: a missing bucket stops the step before anything is made

    topic_arn = find_topic(plan)
    if topic_arn is None:
        created = sns("create_topic", Name=topic_name(plan.bucket), Tags=[{"Key": "app", "Value": "drumscribe"}])
        topic_arn = created["TopicArn"] if created else f"arn:aws:sns:{plan.region}:ACCOUNT:{topic_name(plan.bucket)}"
        changes.append(f"new SNS topic {topic_name(plan.bucket)}")
        subscribed = []
    else:
        subscribed = email_subscriptions(plan, topic_arn)
    # SNS would answer a second Subscribe with a second confirmation mail; never send one
    if not any(s.get("Endpoint", "").lower() == email.lower() for s in subscribed):
        sns("subscribe", TopicArn=topic_arn, Protocol="email", Endpoint=email)
        changes.append(f"{email} subscribed (AWS mails a confirmation link: alerts arrive once it is followed)")

    if not metrics_on:
        s3("put_bucket_metrics_configuration", Bucket=plan.bucket, Id=METRICS_ID, MetricsConfiguration={"Id": METRICS_ID})
        changes.append(f"request metrics {METRICS_ID} on ({COST_NOTE})")

    have = current_alarms(plan)
    written: dict[str, list[str]] = {"new": [], "updated": []}
    for want in alarms(plan.bucket, topic_arn, thresholds):
        if not alarm_matches(have.get(want["AlarmName"]), want):
            cw("put_metric_alarm", **want)
            written["updated" if want["AlarmName"] in have else "new"].append(want["AlarmName"].removeprefix(alarm_prefix(plan.bucket)))
    for how, names in written.items():
        if names:  # the prefix once: "new alarms drumscribe-B-{bucket-size, 4xx-errors}"
            shown = names[0] if len(names) == 1 else "{" + ", ".join(names) + "}"
            changes.append(f"{how} alarm{'s' if len(names) > 1 else ''} {alarm_prefix(plan.bucket)}{shown}")

    return _result(plan, [sns, s3, cw], changes, f"topic {topic_name(plan.bucket)} -> {email}, request metrics on, 5 alarms")


def _result(plan: Plan, recorders: list[Recorder], changes: list[str], in_place: str) -> StepResult:
    """One row for a step that wrote to several services."""
    merged = Recorder(plan, recorders[0].service)
    merged.calls = [c for r in recorders for c in r.calls]
    return merged.result("monitoring", changes, in_place)


def _remove(plan: Plan) -> StepResult:
    sns, s3, cw = Recorder(plan, "sns"), Recorder(plan, "s3"), Recorder(plan, "cloudwatch")
    changes: list[str] = []
    names = sorted(current_alarms(plan))
    if names:
        cw("delete_alarms", AlarmNames=names)
        changes.append(f"{len(names)} alarm(s) deleted")
    if _metrics_configured(plan):
        s3("delete_bucket_metrics_configuration", Bucket=plan.bucket, Id=METRICS_ID)
        changes.append(f"request metrics {METRICS_ID} off (their cost stops)")
    topic_arn = find_topic(plan)
    if topic_arn:
        sns("delete_topic", TopicArn=topic_arn)  # its subscriptions go with it
        changes.append(f"SNS topic {topic_name(plan.bucket)} and its subscriptions deleted")
    return _result(plan, [sns, s3, cw], changes, "no drumscribe alarms, topic or request metrics for this bucket")


def setup_monitoring(
    email: str | None = None,
    *,
    thresholds: Thresholds | None = None,
    remove: bool = False,
    bucket: str | None = None,
    region: str | None = None,
    settings=None,
    dry_run: bool = False,
) -> StepResult:
    """Alarms on size, errors and unusual traffic, mailed to ``email`` via SNS. Safe to run again.

    ``remove=True`` deletes the alarms, request metrics and topic instead.
    """
    from drumscribe.provision.run import run_step

    return run_step("monitoring", step_monitoring, bucket=bucket, region=region, settings=settings, dry_run=dry_run,
                    email=email, thresholds=thresholds, remove=remove)

