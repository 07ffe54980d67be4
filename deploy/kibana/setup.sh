#!/bin/sh
# One-shot Kibana setup for docker compose: imports the Runbooks data views, visualizations
# and dashboard (saved-objects.ndjson beside this script) through the saved objects API,
# overwriting earlier copies, and makes the Jenkins/API logs the default data view.
# Needs KIBANA_URL and ELASTIC_PASSWORD. Safe to run again.
set -eu

: "${KIBANA_URL:?}" "${ELASTIC_PASSWORD:?}"
here=$(dirname "$0")
objects="$here/saved-objects.ndjson"

# The password goes to curl through a private config file, never on its command line.
auth_config=$(mktemp)
reply=$(mktemp)
trap 'rm -f "$auth_config" "$reply"' EXIT
printf 'user = "elastic:%s"\n' "$ELASTIC_PASSWORD" > "$auth_config"

echo "waiting for kibana at $KIBANA_URL"
i=0
until curl -fsS -K "$auth_config" "$KIBANA_URL/api/status" 2>/dev/null | grep -q '"level":"available"'; do
  i=$((i + 1))
  [ "$i" -lt 90 ] || { echo "kibana did not become available" >&2; exit 1; }
  sleep 2
done

status=$(curl -sS -o "$reply" -w '%{http_code}' -K "$auth_config" -H 'kbn-xsrf: true' \
  -X POST "$KIBANA_URL/api/saved_objects/_import?overwrite=true" --form "file=@$objects")
if [ "$status" != 200 ] || ! grep -q '"success":true' "$reply"; then
  echo "import failed (HTTP $status): $(head -c 2000 "$reply")" >&2
  exit 1
fi
echo "imported $(grep -o '"successCount":[0-9]*' "$reply" | cut -d: -f2) saved objects from $objects"

status=$(curl -sS -o "$reply" -w '%{http_code}' -K "$auth_config" -H 'kbn-xsrf: true' \
  -H 'Content-Type: application/json' -X POST "$KIBANA_URL/api/data_views/default" \
  --data '{"data_view_id":"runbooks-logs-jenkins-api","force":true}')
[ "$status" = 200 ] || echo "warning: default data view not set (HTTP $status): $(head -c 500 "$reply")" >&2

echo "kibana setup done: dashboard at ${KIBANA_PUBLIC_URL:-http://localhost:5601}/app/dashboards#/view/runbooks-overview"
