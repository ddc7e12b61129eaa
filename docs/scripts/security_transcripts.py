"""Re-make the transcripts of docs/security.md ("Monitoring and security practices").

    .venv/bin/python docs/scripts/security_transcripts.py > /tmp/transcripts.txt

The CLI runs in-process against a moto server on 127.0.0.1:5124, in a fresh git work tree under
/tmp. moto has no S3 request-metrics API, so tests/moto_shims.py answers those three calls, as in
the tests. Paste the blocks into the page by hand.
"""
import os, shlex, subprocess, sys, tempfile, json
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "tests"))
from _pytest.monkeypatch import MonkeyPatch
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner
import logging

logging.getLogger("werkzeug").disabled = True  # the server's request log would land in the transcripts

server = ThreadedMotoServer(ip_address="127.0.0.1", port=5124, verbose=False); server.start()
work = tempfile.mkdtemp(prefix="drumscribe-sec-"); os.chdir(work)
for k in list(os.environ):
    if k.startswith(("AWS_", "DRUMSCRIBE_")): del os.environ[k]
os.environ.update(AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                  AWS_REGION="us-east-1", AWS_ENDPOINT_URL="http://127.0.0.1:5124", COLUMNS="110", DRUMSCRIBE_USER="alice",
                  DRUMSCRIBE_HOME=work + "/home", DRUMSCRIBE_CONFIG=work + "/none.toml")
from moto_shims import answer_request_metrics
mp = MonkeyPatch(); answer_request_metrics(mp)
from drumscribe.cli import app

def run(line, env=None, grep=None, quiet=False):
    args = shlex.split(line)[1:]
    r = CliRunner().invoke(app, args, env=env)
    text = r.output  # stdout and stderr interleaved, as a terminal shows them
    if grep:
        text = "\n".join(l for l in text.splitlines() if any(g in l for g in grep))
    if not quiet:
        print(f"$ {line}" + (f" | grep ..." if grep else ""))
        print(text.rstrip("\n"))
        if r.exit_code: print(f"[exit {r.exit_code}]")
        print()
    return r

section = lambda t: print(f"\n########## {t}\n")
B = "drum-transcription-bucket"
subprocess.run(["git", "init", "-q"])
section("setup")
run(f"drumscribe setup --bucket {B} --no-tls-policy")
section("monitoring")
run(f"drumscribe setup monitoring --email ops@example.com --bucket {B}")
run(f"drumscribe setup monitoring --email ops@example.com --bucket {B}")
run(f"drumscribe setup monitoring --email ops@example.com --bucket {B} --max-size-gb 20 --dry-run")
section("allowlist")
run(f"drumscribe setup ip-allowlist 203.0.113.0/24 2001:db8::/32 10.0.0.0/8 --bucket {B}")
run(f"drumscribe setup ip-allowlist 203.0.113.0/24 2001:db8::/32 --bucket {B} --yes")
run(f"drumscribe setup tls-policy --bucket {B}")
run(f"drumscribe setup ip-allowlist 203.0.113.0/24 2001:db8::/32 --bucket {B}")
import boto3
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:5124", region_name="us-east-1")
print("$ aws s3api get-bucket-policy --bucket", B, "--query Policy --output text | jq '.Statement[].Sid'")
print("\n".join(json.dumps(s["Sid"]) for s in json.loads(s3.get_bucket_policy(Bucket=B)["Policy"])["Statement"])); print()
run(f"drumscribe setup ip-allowlist --remove --bucket {B}")
run(f"drumscribe setup ip-allowlist 10.0.0.1/8 --bucket {B}")
print(f"$ aws s3api delete-bucket-policy --bucket {B}   # moto is plain HTTP: the TLS-only statement would refuse the rest"); print()
s3.delete_bucket_policy(Bucket=B)
section("role")
run(f"drumscribe setup iam --role ec2 --bucket {B} --env-file ec2.env")
run(f"drumscribe setup iam --role ec2 --bucket {B} --env-file ec2.env")
print("$ cat ec2.env"); print(open("ec2.env").read())
run(f"drumscribe setup iam --role lambda --remove --bucket {B}")
section("lifecycle")
run(f"drumscribe setup lifecycle --archive-uploads-after 90 --archive-class GLACIER --bucket {B}")
run(f"drumscribe setup lifecycle --bucket {B}")
run(f"drumscribe setup lifecycle --archive-uploads-after 10 --archive-class STANDARD_IA --bucket {B}")
key = "uploads/alice/20261201T071500Z_3f9a1c2b7d4e_groove.wav"
s3.put_object(Bucket=B, Key=key, Body=b"RIFF" + b"\0" * 2 * 1024 * 1024, StorageClass="GLACIER")
s3.put_object(Bucket=B, Key="uploads/alice/20261201T071600Z_0a1b2c3d4e5f_fill.wav", Body=b"RIFF" + b"\0" * 2 * 1024 * 1024)
run(f"drumscribe transcribe s3://{B}/{key}")
run(f"drumscribe restore {key}")
run(f"drumscribe restore {key}")
run("drumscribe stats")
section("doctor admin")
iam = boto3.client("iam", endpoint_url="http://127.0.0.1:5124", region_name="us-east-1")
iam.create_user(UserName="admin")
iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="admin")["AccessKey"]
print("$ export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...   # an administrator's key (IAM user admin)"); print()
os.environ.update(AWS_ACCESS_KEY_ID=k["AccessKeyId"], AWS_SECRET_ACCESS_KEY=k["SecretAccessKey"])
run("drumscribe doctor")
section("doctor app key")
from moto.core import enable_iam_authentication
from drumscribe.envfile import read_env
env = read_env(".env")
with enable_iam_authentication():
    run("drumscribe doctor", env={"AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"]})
section("env tracked")
print("$ git add -f .env"); subprocess.run(["git", "add", "-f", ".env"]); print()
run("drumscribe doctor")
print("$ cat .gitignore"); print(open(".gitignore").read())
server.stop()
