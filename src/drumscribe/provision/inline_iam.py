"""The ``iam`` step where the endpoint has no IAM user API (Ceph RGW): the app's permissions as an
inline user policy on a user made with the platform's own tool.

RGW answers CreateUser, CreatePolicy, AttachUserPolicy, CreateAccessKey and STS with 405: its users
and keys are made with ``radosgw-admin``. It does have PutUserPolicy, and enforces it. So this step
puts ``DrumTranscriptionS3Policy`` on user ``drum-transcription-app`` as an inline policy (covering
every bucket set up so far, as on AWS), and says how to make the user and its key when the user is
not there yet. Where inline policies are missing too (MinIO, R2, B2), the row says how that
platform scopes a key to one bucket.

RGW 16 checks a browser's POST upload (a presigned POST) against the *bucket* policy only, never
the user's: with the inline policy alone, ``serve``'s uploads are refused (403) while PutObject
works. So on Ceph a bucket-policy statement (``UPLOADS_SID``) also lets the app's user POST under
``uploads/``, and nowhere else (``base.write_bucket_policy`` writes it past RGW 16's BlockPublicPolicy).

What RGW 16 needs, learnt on it: the document compact (role policies with spaces are refused; user
policies do not mind, compact costs nothing), only actions it knows (``s3:GetEncryptionConfiguration``
makes the whole document MalformedPolicyDocument, so it is left out where the endpoint has no
default encryption), and GetUserPolicy only for a policy ListUserPolicies names (for any other name
it answers a document that is not XML).
"""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions as bexc
from botocore.parsers import ResponseParserError

from drumscribe import aws, keys
from drumscribe.config import Settings
from drumscribe.envfile import read_env
from drumscribe.provision import documents, policy, support
from drumscribe.provision.base import UNSUPPORTED, Plan, Recorder, StepResult, read_or_none, translate, write_bucket_policy

USER = documents.USER_NAME
POLICY = documents.POLICY_NAME
_NOT_WITHOUT_ENCRYPTION = "s3:GetEncryptionConfiguration"


def user_api_missing(plan: Plan) -> bool:
    """True when IAM's user calls are not there (405/501): one GetUser, only off AWS."""
    if plan.provider == "aws":
        return False
    try:
        plan.iam.get_user(UserName=USER)
    except bexc.ClientError as exc:
        return support.unsupported(exc)
    except (bexc.BotoCoreError, ResponseParserError):
        return True  # an answer that is not IAM's XML: no IAM here
    return False


def step_inline_policy(plan: Plan) -> StepResult:
    platform = plan.provider
    names = dict(bucket=plan.bucket, user=USER, policy=POLICY)
    try:
        listed = plan.iam.list_user_policies(UserName=USER)["PolicyNames"]
    except bexc.ClientError as exc:
        if support.unsupported(exc):
            return _no_iam(plan, "IAM users, keys and user policies")
        if support.status_of(exc) != 404:  # RGW: 404 both for "no such user" and "no policies yet"
            raise translate(exc, action=f"list the policies of user {USER}") from exc
        listed = []
    except (bexc.BotoCoreError, ResponseParserError):
        return _no_iam(plan, "IAM users, keys and user policies")
    current = _policy(plan) if POLICY in listed else None
    covered = documents.buckets_in_iam_policy(current)
    buckets = covered + [plan.bucket] if plan.bucket not in covered else covered
    want = app_policy(plan, buckets)
    call = Recorder(plan, "iam")
    changes = []
    if current is None or not documents.policy_statements_equal(current, want):
        try:
            call("put_user_policy", UserName=USER, PolicyName=POLICY, PolicyDocument=json.dumps(want, separators=(",", ":")))
        except bexc.ClientError as exc:
            if support.status_of(exc) == 404:
                how = support.how("iam", platform, **names)
                detail = f"no user {USER} on this endpoint yet, and IAM users and keys are {support.UNSUPPORTED} ({support.NAMES[platform]}): {how}"
                return StepResult("iam", UNSUPPORTED, detail, call.calls[:-1],
                                  warning=f"iam: no user {USER} yet: make it with your storage's admin tool (see the table), then run setup iam again")
            raise translate(exc, action=f"put the inline policy {POLICY} on user {USER}") from exc
        kept = [b for b in covered if b != plan.bucket]
        changes.append(f"inline policy {POLICY} on user {USER} for bucket(s) {', '.join(buckets)}"
                       + (f" ({', '.join(kept)} kept)" if kept else ""))
    in_place = f"inline policy {POLICY} on user {USER} covers {', '.join(buckets)}"
    if platform == "ceph":
        uploads = _browser_uploads_statement(plan)
        changes += uploads.changes
        call.calls += uploads.calls
        in_place += f"; bucket policy lets {USER} POST browser uploads under uploads/"
    result = call.result("iam", changes, in_place)
    note = _key_note(plan)
    result.detail += f"; {note}"
    if "not in" in note:
        result.warning = f"iam: {note}"
    return result


UPLOADS_SID = "DrumscribeAppBrowserUploads"


class _Done:
    def __init__(self) -> None:
        self.changes: list[str] = []
        self.calls: list[Any] = []


def uploads_statement(bucket: str) -> dict[str, Any]:
    return {"Sid": UPLOADS_SID, "Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam:::user/{USER}"]},
            "Action": ["s3:PutObject"], "Resource": [f"arn:aws:s3:::{bucket}/{keys.UPLOADS}/*"]}


def _browser_uploads_statement(plan: Plan) -> _Done:
    """The bucket-policy statement RGW needs for the app's browser uploads (see the module docstring)."""
    done = _Done()
    call = Recorder(plan, "s3")
    got = read_or_none(plan.s3.get_bucket_policy, ("NoSuchBucketPolicy",), plan=plan, what="read bucket policy of", Bucket=plan.bucket)
    current = json.loads(got["Policy"]) if got else None
    want = uploads_statement(plan.bucket)
    if policy.same_statement(policy.find_statement(current, UPLOADS_SID), want):
        return done
    write_bucket_policy(plan, call, policy.put_statement(current, want))
    done.calls = call.calls
    done.changes.append(f"bucket policy statement {UPLOADS_SID}: {USER} may POST browser uploads under uploads/ "
                        "(RGW checks POST uploads against the bucket policy only)")
    return done


def app_policy(plan: Plan, buckets: list[str]) -> dict[str, Any]:
    """The app's policy for ``buckets``, without actions this endpoint does not know."""
    doc = documents.iam_policy(*buckets)
    if not _has_default_encryption(plan):
        for statement in doc["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != _NOT_WITHOUT_ENCRYPTION]
    return doc


def _has_default_encryption(plan: Plan) -> bool:
    try:
        got = plan.s3.get_bucket_encryption(Bucket=plan.bucket)
    except bexc.ClientError as exc:
        return not support.unsupported(exc, invalid_argument=True)
    except bexc.BotoCoreError:
        return True
    return not support.listed_instead({**got, "Rules": got.get("ServerSideEncryptionConfiguration", {}).get("Rules")}, "Rules")


def _policy(plan: Plan) -> dict[str, Any] | None:
    try:
        document = plan.iam.get_user_policy(UserName=USER, PolicyName=POLICY)["PolicyDocument"]
    except (bexc.ClientError, ResponseParserError):
        return None
    from drumscribe.provision.iam import policy_document

    return policy_document(document)


def _key_note(plan: Plan) -> str:
    """Whether the .env at hand holds the app user's key (RGW has no STS: ListBuckets names the owner)."""
    env = read_env(plan.env_file)
    key_id, secret = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
    if key_id and secret and owner_of(plan, key_id, secret) == USER:
        return f"the key in {plan.env_file} is {USER}'s"
    how = {"ceph": f"`radosgw-admin user info --uid {USER}` shows it"}.get(plan.provider, "your storage's admin tool shows it")
    return f"{USER}'s key is not in {plan.env_file}: put it there as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY ({how})"


def owner_of(plan: Plan, key_id: str, secret: str) -> str | None:
    """The user a key belongs to, from the Owner of its ListBuckets answer (RGW: the uid)."""
    settings = Settings(access_key_id=key_id, secret_access_key=secret, region=plan.region, endpoint_url=plan.settings.endpoint_url)
    try:
        return aws.client(settings, "s3", retries={"max_attempts": 2, "mode": "standard"}).list_buckets().get("Owner", {}).get("ID")
    except (bexc.ClientError, bexc.BotoCoreError):
        return None


def _no_iam(plan: Plan, what: str) -> StepResult:
    why = support.explain("iam", plan.provider, bucket=plan.bucket, user=USER, policy=POLICY)
    return StepResult("iam", UNSUPPORTED, f"{what}: {why}", warning=f"iam: {what} {support.UNSUPPORTED} (see the table)")
