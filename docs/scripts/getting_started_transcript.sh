#!/bin/bash
# Re-make the transcripts of docs/getting-started.md, as user alice in ~/drums.
#
#   .venv/bin/moto_server -H 127.0.0.1 -p 5055 &        # the "cloud" of part 2 (stop it after)
#   mkdir -p /tmp/gs/home/alice && sudo unshare -m docs/scripts/getting_started_transcript.sh > /tmp/gs/out.txt
#
# Runs in a private mount namespace where /home is the empty /tmp/gs/home, so the paths read
# /home/alice; no AWS_*/DRUMSCRIBE_* from your shell leak in. Paste the blocks into the page by hand
# (the `export AWS_ENDPOINT_URL` line has no output of its own).
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
mount --bind /tmp/gs/home /home
for k in $(env | grep -o '^\(AWS\|DRUMSCRIBE\)_[A-Z_]*'); do unset $k; done
export HOME=/home/alice USER=alice LOGNAME=alice COLUMNS=100 PYTHONUNBUFFERED=1 TERM=dumb
export PATH=$REPO/.venv/bin:/usr/local/bin:/usr/bin:/bin
umask 022
mkdir -p ~/drums && cd ~/drums
python "$REPO/docs/scripts/getting_started_audio.py" . >/dev/null
run() { echo "\$ $*"; eval "$*" 2>&1; rc=$?; [ $rc -ne 0 ] && echo "[exit status $rc]"; echo; }
jobof() { grep -A1 "^$1:" /tmp/gs/last | sed -n 's/^  job \([^:]*\):.*/\1/p' | head -1; }
sec() { echo "########## $*"; echo; }

sec 1 offline
run ls -go
run drumscribe transcribe groove.wav verse.wav two-hits.wav -o out | tee /tmp/gs/last
G=$(jobof groove.wav); V=$(jobof verse.wav); T=$(jobof two-hits.wav)
run ls -go out
run drumscribe transcribe verse.wav -o out
run drumscribe jobs
run drumscribe show $G --bars 1-4
run drumscribe show $T
run drumscribe view $G
run drumscribe show $G --format musicxml -o groove.musicxml
run drumscribe show $G --format png --bars 1-4 -o groove.png
run ls -go groove.musicxml groove.png
run drumscribe doctor
run drumscribe transcribe notes.txt

sec 2 s3
export AWS_ENDPOINT_URL=http://127.0.0.1:5055
echo '$ export AWS_ENDPOINT_URL=http://127.0.0.1:5055'; echo
run AWS_ACCESS_KEY_ID=AKIAADMINEXAMPLE0001 AWS_SECRET_ACCESS_KEY=admin-secret-example drumscribe setup --bucket drum-transcription-bucket
run ls -go .env
run AWS_ACCESS_KEY_ID=AKIAADMINEXAMPLE0001 AWS_SECRET_ACCESS_KEY=admin-secret-example drumscribe setup --bucket drum-transcription-bucket
run drumscribe config show
run drumscribe doctor
run drumscribe get uploads/alice/none.wav

sec 3 sync
run drumscribe sync push
run drumscribe jobs
run drumscribe show $V --bars 1-1
run drumscribe sync push --from-local
run drumscribe sync push --from-local
run drumscribe jobs
run drumscribe sync pull
run drumscribe --local transcribe verse.wav
run drumscribe sync push
run drumscribe transcribe groove.wav
run drumscribe sync pull
run drumscribe jobs
run drumscribe ls uploads/
run drumscribe stats
