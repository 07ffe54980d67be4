#!/usr/bin/env bash
# Runs the given services natively (from target/debug) with their logs prefixed, each on its
# own port, and stops them all on Ctrl-C or as soon as one of them exits. Settings come from
# the environment (see README); the defaults expect PostgreSQL and RabbitMQ on localhost.
#
# Ports: orchestrator 3001, chatops 3002, listener 3003, runner 3004, health-monitor 5050;
# RUNBOOKS_BASE_PORT=4000 gives 4000..4004 in that order; RUNBOOKS__<SERVICE>__HTTP__PORT
# (e.g. RUNBOOKS__HEALTH_MONITOR__HTTP__PORT) sets one. RUNBOOKS__HTTP__PORT would give every
# service the same port and is refused when more than one service runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir="${RUNBOOKS_BIN_DIR:-${CARGO_TARGET_DIR:-target}/debug}"
export RUNBOOKS__TELEMETRY__LOG_FORMAT="${RUNBOOKS__TELEMETRY__LOG_FORMAT:-pretty}"
# Without Jenkins nearby the runner only simulates actions.
export DRY_RUN="${DRY_RUN:-true}"

index_of() {
  case "$1" in
    orchestrator) echo 0 ;; chatops) echo 1 ;; listener) echo 2 ;; runner) echo 3 ;;
    health-monitor) echo 4 ;; *) echo "unknown service: $1" >&2; exit 2 ;;
  esac
}
default_port() { local d=(3001 3002 3003 3004 5050); echo "${d[$(index_of "$1")]}"; }
port_var() { echo "RUNBOOKS__$(echo "$1" | tr 'a-z-' 'A-Z_')__HTTP__PORT"; }

if [ -n "${RUNBOOKS__HTTP__PORT:-}" ] && [ "$#" -gt 1 ]; then
  echo "RUNBOOKS__HTTP__PORT=$RUNBOOKS__HTTP__PORT would give all $# services the same port." >&2
  echo "Set RUNBOOKS_BASE_PORT, or one port each with RUNBOOKS__<SERVICE>__HTTP__PORT" >&2
  echo "(e.g. RUNBOOKS__ORCHESTRATOR__HTTP__PORT=4001)." >&2
  exit 2
fi

declare -A port
for svc in "$@"; do
  var="$(port_var "$svc")"
  if [ -n "${!var:-}" ]; then
    port[$svc]="${!var}"
  elif [ -n "${RUNBOOKS__HTTP__PORT:-}" ]; then
    port[$svc]="$RUNBOOKS__HTTP__PORT"
  elif [ -n "${RUNBOOKS_BASE_PORT:-}" ]; then
    port[$svc]=$((RUNBOOKS_BASE_PORT + $(index_of "$svc")))
  else
    port[$svc]="$(default_port "$svc")"
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/${port[$svc]}") 2>/dev/null; then
    echo "port ${port[$svc]} ($svc) is already in use: stop what holds it or choose other ports" >&2
    exit 2
  fi
done
url_of() { echo "http://localhost:${port[$1]:-$(default_port "$1")}"; }

# Where the data goes, passwords masked: the same database and namespace for all of them.
mask() { sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#'; }
db="${RUNBOOKS__DATABASE__URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/runbooks}}"
mq="${RUNBOOKS__BUS__URL:-${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}}"
ns="${RUNBOOKS__BUS__NAMESPACE:-}"
echo "database: $(echo "$db" | mask)  (created when missing; DATABASE_URL)"
echo "broker:   $(echo "$mq" | mask)  namespace: ${ns:-(none: exchanges and queues unprefixed)}  (RUNBOOKS__BUS__NAMESPACE)"

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
  echo "  curl -H \"Authorization: Bearer \$(cat .runbooks/dev-token)\" $(url_of orchestrator)/api/incidents"
fi
# The dashboard has no built-in password; a development one is made the same way.
if [ -z "${RUNBOOKS__DASHBOARD__PASSWORD:-}" ]; then
  if [ ! -s .runbooks/dashboard-password ]; then
    (umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > .runbooks/dashboard-password)
  fi
  export RUNBOOKS__DASHBOARD__USER="${RUNBOOKS__DASHBOARD__USER:-admin}"
  RUNBOOKS__DASHBOARD__PASSWORD="$(cat .runbooks/dashboard-password)"
  export RUNBOOKS__DASHBOARD__PASSWORD
  echo "dashboard: $(url_of health-monitor)/ as $RUNBOOKS__DASHBOARD__USER / $RUNBOOKS__DASHBOARD__PASSWORD"
fi

pids=()
declare -A name_of
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap cleanup INT TERM EXIT

for svc in "$@"; do
  unset_ports=()
  for other in orchestrator chatops listener runner health-monitor; do
    unset_ports+=(-u "$(port_var "$other")")
  done
  # Process substitution keeps $! the service's own pid, so SIGTERM reaches it and it drains.
  # The prefixer ignores Ctrl-C so the services' shutdown lines still get printed.
  env "${unset_ports[@]}" RUNBOOKS__HTTP__PORT="${port[$svc]}" "$bin_dir/$svc" \
    > >(trap '' INT TERM; exec sed -u "s/^/$(printf '%-15s| ' "$svc")/") 2>&1 &
  pids+=("$!")
  name_of[$!]="$svc"
done

# The URLs that answer, once each service's /health does (a service that exits instead stops
# everything below).
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for svc in "$@"; do
  for _ in $(seq 1 600); do
    up "${port[$svc]}" && break
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
    [ "$alive" -eq "${#pids[@]}" ] || break
    sleep 0.1
  done
done
echo "---------------------------------------------------------------- listening"
for svc in "$@"; do
  if up "${port[$svc]}"; then
    printf '  %-15s %s\n' "$svc" "$(url_of "$svc")"
  else
    printf '  %-15s not listening on %s\n' "$svc" "${port[$svc]}"
  fi
done

# One service exiting (a port taken, a bad setting) stops all of them.
status=0
wait -n "${pids[@]}" || status=$?
for pid in "${pids[@]}"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "${name_of[$pid]} exited (status $status): stopping the others" >&2
    break
  fi
done
exit "$status"
