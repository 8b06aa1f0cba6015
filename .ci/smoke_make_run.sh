#!/usr/bin/env bash
# A fresh clone, the README's `make run` on embedded defaults (SQLite), and two pages that must answer.
set -euo pipefail
src=$(pwd)
work=$(mktemp -d)
trap 'kill -- -$pid 2>/dev/null || true; rm -rf "$work"' EXIT
git clone -q "$src" "$work/app"
cd "$work/app"
# Reuse the installed wheels' cache; the virtualenv itself is created from nothing.
env -u DATABASE_URL -u REDIS_URL -u SECRET_KEY -u FIELD_ENCRYPTION_KEY PORT=8765 setsid make run > run.log 2>&1 &
pid=$!
for _ in $(seq 240); do
  curl -fs http://127.0.0.1:8765/health >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { cat run.log; exit 1; }
  sleep 1
done
curl -fsS http://127.0.0.1:8765/health; echo
test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8765/admin/login/)" = 200
grep -q "demo@salesagents.local" run.log || { echo "make run did not print the demo login"; cat run.log; exit 1; }
echo "make run: /health 200, /admin/login/ 200, demo login printed"
