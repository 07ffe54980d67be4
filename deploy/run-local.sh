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
