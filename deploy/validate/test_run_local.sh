#!/usr/bin/env bash
# deploy/run-local.sh (`make run`) with stand-in services: each gets its own port, the URLs
# that answer are printed, one service failing stops all, and a shared RUNBOOKS__HTTP__PORT
# is refused.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for s in orchestrator chatops listener runner health-monitor; do
  printf '#!/usr/bin/env bash\nexec python3 -m http.server --bind 127.0.0.1 "$RUNBOOKS__HTTP__PORT"\n' > "$bin/$s"
done
printf '#!/usr/bin/env bash\necho "bad setting"; sleep 1; exit 3\n' > "$bin/runner"
chmod +x "$bin"/*
base=$((20000 + RANDOM % 20000))
export RUNBOOKS_BIN_DIR="$bin" RUNBOOKS__API__TOKENS=x RUNBOOKS__DASHBOARD__PASSWORD=y
out=$(RUNBOOKS_BASE_PORT=$base timeout 60 ./deploy/run-local.sh orchestrator chatops runner 2>&1) && rc=0 || rc=$?
fail() { echo "[run-local] $1"; echo "$out"; exit 1; }
[ "$rc" -eq 3 ] || fail "expected the runner's status 3, got $rc"
grep -q "orchestrator    http://localhost:$base" <<<"$out" || fail "orchestrator URL missing"
grep -q "chatops         http://localhost:$((base + 1))" <<<"$out" || fail "chatops URL missing"
grep -q "runner exited (status 3): stopping the others" <<<"$out" || fail "no stop message"
grep -q "namespace: (none" <<<"$out" || fail "no namespace line"
if (exec 3<>"/dev/tcp/127.0.0.1/$base") 2>/dev/null; then fail "orchestrator still running"; fi
out=$(RUNBOOKS__HTTP__PORT=$base ./deploy/run-local.sh orchestrator chatops 2>&1) && rc=0 || rc=$?
[ "$rc" -eq 2 ] && grep -q "same port" <<<"$out" || fail "a shared port was not refused"
echo "[run-local] ok"
