#!/bin/sh
# One-shot Elasticsearch setup for docker compose (idempotent: run it again at any time).
#   - the kibana_system password Kibana logs in with;
#   - role runbooks_listener_reader + user runbooks-listener: read logs-jenkins*, logs-api*;
#   - role runbooks_ingest_writer + user runbooks-ingest: create documents in logs-*,
#     metrics-*, traces-* data streams (the OpenTelemetry Collector, the log generator);
#   - index templates for the collector's data streams logs-runbooks-* and metrics-runbooks-*
#     (deploy/elasticsearch/*.json), mapping the fields the Kibana dashboard reads, and the
#     data streams themselves, so the dashboard works before the first incident.
# Needs ELASTICSEARCH_URL, ELASTIC_PASSWORD, KIBANA_SYSTEM_PASSWORD, ES_LISTENER_PASSWORD,
# ES_INGEST_PASSWORD. Passwords go in request bodies only, never on a command line or a log.
set -eu

: "${ELASTICSEARCH_URL:?}" "${ELASTIC_PASSWORD:?}" "${KIBANA_SYSTEM_PASSWORD:?}"
: "${ES_LISTENER_PASSWORD:?}" "${ES_INGEST_PASSWORD:?}"

# curl reads the superuser's credentials from a private file (-K), not from argv.
auth_config=$(mktemp)
trap 'rm -f "$auth_config"' EXIT
printf 'user = "elastic:%s"\n' "$ELASTIC_PASSWORD" > "$auth_config"

es() {
  method=$1 path=$2 body=$3
  status=$(printf '%s' "$body" | curl -sS -o /tmp/es-reply -w '%{http_code}' -K "$auth_config" \
    -X "$method" -H 'Content-Type: application/json' --data-binary @- "$ELASTICSEARCH_URL$path")
  case "$status" in
    2*) echo "ok    $method $path" ;;
    *) echo "error $method $path: HTTP $status: $(head -c 500 /tmp/es-reply)" >&2; exit 1 ;;
  esac
}

json_string() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

echo "waiting for elasticsearch at $ELASTICSEARCH_URL"
i=0
until curl -fsS -o /dev/null -K "$auth_config" "$ELASTICSEARCH_URL/_cluster/health?wait_for_status=yellow&timeout=5s"; do
  i=$((i + 1))
  [ "$i" -lt 60 ] || { echo "elasticsearch did not become ready" >&2; exit 1; }
  sleep 2
done

es POST /_security/user/kibana_system/_password \
  "{\"password\":\"$(json_string "$KIBANA_SYSTEM_PASSWORD")\"}"

es PUT /_security/role/runbooks_listener_reader '{
  "cluster": ["monitor"],
  "indices": [{"names": ["logs-jenkins*", "logs-api*"], "privileges": ["read", "view_index_metadata"]}]
}'
es PUT /_security/user/runbooks-listener \
  "{\"password\":\"$(json_string "$ES_LISTENER_PASSWORD")\",\"roles\":[\"runbooks_listener_reader\"],\"full_name\":\"Runbooks listener\"}"

es PUT /_security/role/runbooks_ingest_writer '{
  "cluster": ["monitor"],
  "indices": [{"names": ["logs-*", "metrics-*", "traces-*"], "privileges": ["auto_configure", "create_doc"]}]
}'
es PUT /_security/user/runbooks-ingest \
  "{\"password\":\"$(json_string "$ES_INGEST_PASSWORD")\",\"roles\":[\"runbooks_ingest_writer\"],\"full_name\":\"Runbooks telemetry writer\"}"

here=$(dirname "$0")
for name in logs-runbooks metrics-runbooks; do
  es PUT "/_index_template/$name" "$(cat "$here/$name.template.json")"
  # 400 resource_already_exists_exception when it exists: fine, the template applies anyway.
  curl -sS -o /dev/null -K "$auth_config" -X PUT "$ELASTICSEARCH_URL/_data_stream/$name-default" || true
done

echo "elasticsearch setup done"
