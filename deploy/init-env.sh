#!/usr/bin/env bash
# Writes .env for docker compose from .env.example: random passwords for every required
# secret and an admin API token, printed once here (only its SHA-256 goes into .env).
#   deploy/init-env.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -e .env ] && [ "${1:-}" != "--force" ]; then
  echo ".env exists; remove it or pass --force to replace it" >&2
  exit 1
fi

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
sha256_hex() {
  if command -v sha256sum >/dev/null 2>&1; then printf '%s' "$1" | sha256sum | cut -d' ' -f1
  else printf '%s' "$1" | shasum -a 256 | cut -d' ' -f1; fi
}

token="rbk_$(random_hex 32)"
dashboard_password=$(random_hex 12)
declare -A values=(
  [POSTGRES_PASSWORD]=$(random_hex 16)
  [RABBITMQ_PASSWORD]=$(random_hex 16)
  [ELASTIC_PASSWORD]=$(random_hex 16)
  [KIBANA_SYSTEM_PASSWORD]=$(random_hex 16)
  [ES_LISTENER_PASSWORD]=$(random_hex 16)
  [ES_INGEST_PASSWORD]=$(random_hex 16)
  [RUNBOOKS_API_TOKENS]="admin:admin:$(sha256_hex "$token")"
  [DASHBOARD_PASSWORD]=$dashboard_password
)

umask 077
tmp=$(mktemp .env.XXXXXX)
while IFS= read -r line || [ -n "$line" ]; do
  key=${line%%=*}
  if [ "$line" != "$key" ] && [ -n "${values[$key]:-}" ] && [ "$line" = "$key=" ]; then
    printf '%s=%s\n' "$key" "${values[$key]}"
  else
    printf '%s\n' "$line"
  fi
done < .env.example > "$tmp"
mv "$tmp" .env

cat <<MSG
.env written (mode 600). Keep these; they are not stored anywhere else in clear:
  API token (admin):    $token
      curl -H "Authorization: Bearer $token" http://localhost:3001/api/me
  dashboard:            http://localhost:5050  (admin / $dashboard_password)
  Kibana:               http://localhost:5601  (elastic / ELASTIC_PASSWORD in .env)
  RabbitMQ management:  http://localhost:15672 (runbooks / RABBITMQ_PASSWORD in .env)
MSG
