#!/usr/bin/env bash
# The Celery example, end to end, in one command (from the repository root):
#   examples/celery/run.sh        (or: make example-celery)
# Needs Redis on 127.0.0.1:6379 (CELERY_BROKER_URL to change) and `pip install -e '.[celery,redis]'`.
# Starts `jobtrail serve` on a new SQLite file, a Celery worker for tasks.py, publishes a mix of
# tasks, kills the long one from jobtrail, prints what jobtrail recorded, and stops everything.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$(cd "$here/../.." && pwd)/.venv/bin"
[[ -x "$bin/jobtrail" ]] || bin="$(dirname "$(command -v jobtrail)")"
work="$(mktemp -d)"
port="${JOBTRAIL_PORT:-8799}"
export JOBTRAIL_URL="http://127.0.0.1:$port" JOBTRAIL_HEARTBEAT_INTERVAL=2s
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$bin/jobtrail" --url "sqlite:///$work/jobs.db" serve --port "$port" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do "$bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" \
  2>/dev/null && break; sleep 0.2; done

cd "$here"
"$bin/celery" -A tasks worker --pool prefork --concurrency 2 -Q books --loglevel WARNING \
  >"$work/worker.log" 2>&1 &
pids+=($!)
sleep 3
out="$("$bin/python" enqueue.py)"
echo "$out"
long_id="$(echo "$out" | sed -n 's/.*long task \([^ ]*\).*/\1/p')"
sleep 4
"$bin/jobtrail" --url "$JOBTRAIL_URL" kill "$long_id"
sleep 4
"$bin/jobtrail" --url "$JOBTRAIL_URL" stats --by name
"$bin/jobtrail" --url "$JOBTRAIL_URL" jobs --limit 30
echo "jobtrail server log, worker log and database: $work"
