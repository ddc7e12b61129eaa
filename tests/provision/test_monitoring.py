"""`setup monitoring`: SNS topic + email, request metrics, five alarms; twice changes nothing."""

from __future__ import annotations

import boto3
import pytest

from drumscribe.errors import ConfigError
from drumscribe.provision import CHANGED, IN_PLACE, WOULD_CHANGE, setup
from drumscribe.provision.monitoring import METRICS_ID, Thresholds, alarm_prefix, setup_monitoring, topic_name

ALARMS = ["4xx-errors", "5xx-errors", "bucket-size", "download-volume", "request-count"]


@pytest.fixture
def bucket(s3_mock, bucket_name, request_metrics):
    setup(bucket=bucket_name, steps=["bucket"])
    return bucket_name


def clients():
    return (boto3.client(s, region_name="us-east-1") for s in ("sns", "cloudwatch", "s3"))


def subscriptions(sns):
    (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    return topic, sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]


def test_monitoring_creates_topic_subscription_metrics_and_alarms(bucket, request_metrics):
    result = setup_monitoring("ops@example.com", bucket=bucket)
    assert result.status == CHANGED and "request metrics" in result.detail and "$4.80/month" in result.detail
    sns, cw, s3 = clients()
    topic, subs = subscriptions(sns)
    assert topic.endswith(":" + topic_name(bucket))
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "ops@example.com")]
    assert request_metrics == {(bucket, METRICS_ID): {"Id": METRICS_ID}}  # the whole bucket: no filter
    found = {a["AlarmName"].removeprefix(alarm_prefix(bucket)): a for a in cw.describe_alarms()["MetricAlarms"]}
    assert sorted(found) == ALARMS
    assert all(a["AlarmActions"] == [topic] for a in found.values())
    assert found["bucket-size"]["MetricName"] == "BucketSizeBytes" and found["bucket-size"]["Threshold"] == 50 * 1024**3
    assert found["download-volume"]["MetricName"] == "BytesDownloaded"
    assert {"Name": "FilterId", "Value": METRICS_ID} in found["5xx-errors"]["Dimensions"]


def test_second_run_changes_nothing_and_never_subscribes_twice(bucket):
    setup_monitoring("ops@example.com", bucket=bucket)
    again = setup_monitoring("OPS@example.com", bucket=bucket)  # addresses compare case-insensitively
    assert again.status == IN_PLACE and again.calls == []
    _, subs = subscriptions(next(clients()))
    assert len(subs) == 1


def test_changed_threshold_updates_only_that_alarm(bucket):
    setup_monitoring("ops@example.com", bucket=bucket)
    result = setup_monitoring("ops@example.com", bucket=bucket, thresholds=Thresholds(errors_5xx=3))
    assert [c.params["AlarmName"] for c in result.calls] == [alarm_prefix(bucket) + "5xx-errors"]
    assert result.detail == f"updated alarm {alarm_prefix(bucket)}5xx-errors"


def test_dry_run_writes_nothing(bucket):
    result = setup_monitoring("ops@example.com", bucket=bucket, dry_run=True)
    assert result.status == WOULD_CHANGE
    assert [c.operation for c in result.calls] == ["create_topic", "subscribe", "put_bucket_metrics_configuration"] + ["put_metric_alarm"] * 5
    sns, cw, _ = clients()
    assert sns.list_topics()["Topics"] == [] and cw.describe_alarms()["MetricAlarms"] == []


def test_remove_deletes_alarms_metrics_and_topic(bucket, request_metrics):
    setup_monitoring("ops@example.com", bucket=bucket)
    removed = setup_monitoring(bucket=bucket, remove=True)
    assert removed.status == CHANGED and "their cost stops" in removed.detail
    sns, cw, _ = clients()
    assert sns.list_topics()["Topics"] == [] and cw.describe_alarms()["MetricAlarms"] == []
    assert request_metrics == {}
    assert setup_monitoring(bucket=bucket, remove=True).status == IN_PLACE


@pytest.mark.parametrize("email", [None, "", "not-an-address", "a@b"])
def test_bad_email_is_one_line(bucket, email):
    with pytest.raises(ConfigError, match="email"):
        setup_monitoring(email, bucket=bucket)


def test_thresholds_must_be_positive():
    with pytest.raises(ConfigError, match="errors_4xx must be a positive number"):
        Thresholds(errors_4xx=0)
