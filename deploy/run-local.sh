#!/usr/bin/env bash
# Runs the given services natively (from target/debug) with their logs prefixed, and stops
# them all on Ctrl-C. Settings come from the environment (see README); the defaults expect
# PostgreSQL and RabbitMQ on localhost.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir="${CARGO_TARGET_DIR:-target}/debug"
export RUNBOOKS__TELEMETRY__LOG_FORMAT="${RUNBOOKS__TELEMETRY__LOG_FORMAT:-pretty}"
# Without Jenkins nearby the runner only simulates actions.
export DRY_RUN="${DRY_RUN:-true}"

# A development API token, made once and kept in .runbooks/ (git-ignored), so the README's
# first curl works. A bare token is a development admin; production uses
# `orchestrator token new` (docs/SECURITY.md).
mkdir -p .runbooks
if [ -z "${RUNBOOKS__API__TOKENS:-}" ] && [ -z "${RUNBOOKS__API__TOKENS_FILE:-}" ]; then
  if [ ! -s .runbooks/dev-token ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > .runbooks/dev-token)
  fi
  RUNBOOKS__API__TOKENS="$(cat .runbooks/dev-token)"
  export RUNBOOKS__API__TOKENS
  echo "API token (development admin): $RUNBOOKS__API__TOKENS  (also in .runbooks/dev-token)"
  echo "  curl -H \"Authorization: Bearer \$(cat .runbooks/dev-token)\" http://localhost:3001/api/incidents"
fi
# The dashboard has no built-in password; a development one is made the same way.
if [ -z "${RUNBOOKS__DASHBOARD__PASSWORD:-}" ]; then
  if [ ! -s .runbooks/dashboard-password ]; then
    (umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > .runbooks/dashboard-password)
  fi
  export RUNBOOKS__DASHBOARD__USER="${RUNBOOKS__DASHBOARD__USER:-admin}"
  RUNBOOKS__DASHBOARD__PASSWORD="$(cat .runbooks/dashboard-password)"
  export RUNBOOKS__DASHBOARD__PASSWORD
  echo "dashboard: http://localhost:5050/ as $RUNBOOKS__DASHBOARD__USER / $RUNBOOKS__DASHBOARD__PASSWORD"
fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap cleanup INT TERM EXIT

for svc in "$@"; do
  # Process substitution keeps $! the service's own pid, so SIGTERM reaches it and it drains.
  # The prefixer ignores Ctrl-C so the services' shutdown lines still get printed.
  "$bin_dir/$svc" > >(trap '' INT TERM; exec sed -u "s/^/$(printf '%-15s| ' "$svc")/") 2>&1 &
  pids+=("$!")
done
wait
