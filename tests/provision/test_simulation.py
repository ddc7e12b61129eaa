"""IAM policy simulation for doctor, with IAM's answers stubbed (botocore Stubber): moto does not
implement SimulatePrincipalPolicy, so the allowed/denied decisions are scripted here."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from drumscribe.doctor import FAIL, PASS, doctor
from drumscribe.provision import simulation

BUCKET = "my-drums"
APP = "arn:aws:iam::123456789012:user/drum-transcription-app"


def answer(actions, decision_for=lambda action: "allowed"):
    return {"EvaluationResults": [{"EvalActionName": a, "EvalResourceName": "*", "EvalDecision": decision_for(a)} for a in actions]}


@pytest.fixture
def iam():
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub


def expect_all(stub, decision_for=lambda action: "allowed"):
    for actions, resource in simulation.required(BUCKET):
        stub.add_response("simulate_principal_policy", answer(actions, decision_for),
                          {"PolicySourceArn": APP, "ActionNames": actions, "ResourceArns": [resource]})


def test_what_is_simulated_is_what_the_app_needs_under_each_prefix():
    wanted = simulation.required(BUCKET)
    assert (["s3:ListBucket"], f"arn:aws:s3:::{BUCKET}") in wanted
    objects = [r for actions, r in wanted if "s3:PutObject" in actions]
    assert objects == [f"arn:aws:s3:::{BUCKET}/{p}/doctor-simulation" for p in ("uploads", "processed", "temp", "models")]
    assert not any("s3:GetBucketCORS" in actions for actions, _ in wanted)  # doctor's own reads are not the app's needs


def test_all_allowed(iam):
    client, stub = iam
    expect_all(stub)
    sim = simulation.simulate_app_access(client, APP, BUCKET)
    assert sim.skipped == "" and sim.denied == [] and len(sim.checked) == 4 * 3 + 1  # uploads, processed, temp, models
    stub.assert_no_pending_responses()


def test_denied_actions_are_listed_with_the_decision(iam):
    client, stub = iam
    expect_all(stub, lambda action: "implicitDeny" if action == "s3:DeleteObject" else "allowed")
    sim = simulation.simulate_app_access(client, APP, BUCKET)
    assert [(a, d) for a, _, d in sim.denied] == [("s3:DeleteObject", "implicitDeny")] * 4


@pytest.mark.parametrize("code, status, why", [
    ("AccessDenied", 403, "no permission"),
    ("NoSuchEntity", 404, "does not know the caller"),
    ("NotImplemented", 501, "does not implement IAM policy simulation"),
])
def test_errors_become_a_reason_to_skip(iam, code, status, why):
    client, stub = iam
    stub.add_client_error("simulate_principal_policy", service_error_code=code, http_status_code=status)
    sim = simulation.simulate_app_access(client, APP, BUCKET)
    assert why in sim.skipped and sim.denied == []


@pytest.mark.parametrize("caller, expected", [
    (APP, APP),
    ("arn:aws:sts::123456789012:assumed-role/DrumsRole/session-1", "arn:aws:iam::123456789012:role/DrumsRole"),
    ("arn:aws:iam::123456789012:root", ""),
])
def test_which_principal_is_simulated(caller, expected):
    assert simulation.principal_arn(caller)[0] == expected


class _StubbedIam:
    """Stands in for aws.client(settings, "iam") inside doctor: the simulation answers as told,
    every other IAM call (and every other client) is moto's."""

    def __init__(self, decision_for, real):
        self.decision_for, self.real = decision_for, real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def simulate_principal_policy(self, PolicySourceArn, ActionNames, ResourceArns):
        return answer(ActionNames, self.decision_for)


@pytest.fixture
def doctor_with_iam(s3_mock, bucket_name, monkeypatch):
    from drumscribe import aws
    from drumscribe.provision import setup

    setup(bucket=bucket_name, steps=["bucket", "block-public", "encryption", "lifecycle", "cors"])
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    real = aws.client

    def run(decision_for):
        monkeypatch.setattr(aws, "client", lambda settings, service, **kw: _StubbedIam(decision_for, real(settings, service, **kw)) if service == "iam" else real(settings, service, **kw))
        return {c.name: c for c in doctor().checks}

    return run


def test_doctor_reports_the_simulation_as_a_check(doctor_with_iam, bucket_name):
    allowed = doctor_with_iam(lambda action: "allowed")["iam-permissions"]
    assert allowed.status == PASS and f"s3:ListBucket, s3:PutObject on s3://{bucket_name}" in allowed.detail
    denied = doctor_with_iam(lambda action: "explicitDeny" if action == "s3:PutObject" else "allowed")["iam-permissions"]
    assert denied.status == FAIL and "may not s3:PutObject on" in denied.detail and "(explicitDeny)" in denied.detail
    assert f"drumscribe setup iam --bucket {bucket_name}" in denied.hint


def test_doctor_without_simulation_says_skipped_and_still_passes(s3_mock, bucket_name, monkeypatch):
    from drumscribe.provision import setup

    setup(bucket=bucket_name, steps=["bucket", "block-public", "encryption", "lifecycle", "cors"])
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    report = doctor()  # in-process moto raises NotImplementedError for SimulatePrincipalPolicy
    assert report.ok and "iam-permissions" not in {c.name for c in report.checks}
    assert any(line.startswith("iam-permissions: skipped: this endpoint does not implement") for line in report.info)
