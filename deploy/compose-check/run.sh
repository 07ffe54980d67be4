#!/usr/bin/env bash
# The compose check (`make compose-check`, a step of .ci/run): the project's docker-compose.yml
# and Dockerfile run for real on a Docker engine, and the README's story is played inside the
# containers, through the gateway. See deploy/compose-check/README.md.
#
#   deploy/compose-check/run.sh [--keep]     --keep: leave the stack up at the end
#
# Prints one line per step (`ok`/`FAIL`, seconds, what was seen) and a verdict; exits non-zero
# on the first failed step, after saving every container's logs to $ARTIFACTS (default
# target/compose-check/artifacts). Never pulls: no registry traffic.
set -uo pipefail
# One compound command: bash reads it whole before running it, so editing this file while a
# check runs cannot change the running check.
{

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
keep=false
[ "${1:-}" = "--keep" ] && keep=true

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
work=${COMPOSE_CHECK_DIR:-$CARGO_TARGET_DIR/compose-check}
ARTIFACTS=${ARTIFACTS:-$work/artifacts}
src=$work/src
# Its own project name: the check never touches a stack a user runs as `runbooks`.
export COMPOSE_PROJECT_NAME=runbooks-check
export COMPOSE_FILE=docker-compose.yml:deploy/compose-check/compose.override.yml
TRIXIE=http://deb.debian.org/debian
started=$(date +%s)
mkdir -p "$work" "$ARTIFACTS"
log=$ARTIFACTS/check.log
: > "$log"

step_started=0
step_name=""
begin() { step_name=$1; step_started=$(date +%s); echo "== $1" >> "$log"; }
ok() {
  printf 'ok    %-28s %4ss  %s\n' "$step_name" $(( $(date +%s) - step_started )) "${1:-}"
  disk_note >> "$log"
}
# Free space where the engine keeps images and containers, in GiB (vfs copies every layer and
# every container's root file system in full, so the check's footprint is several GiB).
docker_root() { docker info -f '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker; }
free_gib() { local d; d=$(docker_root); mkdir -p "$d" 2>/dev/null; df -Pk "$d" | awk 'NR==2{printf "%d", $4/1048576}'; }
disk_note() { echo "   disk: $(free_gib) GiB free under $(docker_root)"; }
# Leaves no build cache or untagged images of the check behind (every run rebuilds them).
prune() { docker builder prune -af >> "$log" 2>&1; docker image prune -f >> "$log" 2>&1; return 0; }
fail() {
  printf 'FAIL  %-28s %4ss  %s\n' "$step_name" $(( $(date +%s) - step_started )) "$1"
  save_logs
  echo "compose-check: FAILED at '$step_name' after $(( $(date +%s) - started ))s; logs in $ARTIFACTS"
  if ! $keep && [ -d "$src" ]; then (cd "$src" && docker compose --profile demo down -v --remove-orphans >> "$log" 2>&1); prune; fi
  exit 1
}
# Runs a command, its output to the check's log.
quiet() { "$@" >> "$log" 2>&1; }

save_logs() {
  [ -d "$src" ] || return 0
  (cd "$src" && docker compose --profile demo ps -a > "$ARTIFACTS/ps.txt" 2>&1
   docker compose --profile demo logs --no-color --timestamps > "$ARTIFACTS/compose.log" 2>&1)
  for c in $(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" 2>/dev/null); do
    name=$(docker inspect -f '{{.Name}}' "$c" | tr -d /)
    docker logs --timestamps "$c" > "$ARTIFACTS/$name.log" 2>&1
    docker inspect "$c" > "$ARTIFACTS/$name.inspect.json" 2>&1
  done
  [ -f /var/log/compose-check-dockerd.log ] && tail -n 300 /var/log/compose-check-dockerd.log > "$ARTIFACTS/dockerd.log"
  return 0
}

# A time limit (timeout in .ci/run) still leaves the logs behind.
trap 'fail "stopped (SIGTERM: over its time limit?)"' TERM

# ------------------------------------------------------------------ engine
begin engine
if ! command -v dockerd >/dev/null 2>&1; then
  quiet apt-get update && quiet apt-get install -y docker.io || fail "cannot install docker.io"
fi
plugins=/usr/local/lib/docker/cli-plugins
trixie_plugin() { # package binary: Debian trixie's build of a Docker CLI plugin
  local pkg=$1 file
  file=$(curl -fsS "$TRIXIE/dists/trixie/main/binary-amd64/Packages.xz" | xz -dc \
    | awk -v p="$pkg" '$0=="Package: "p{f=1} f&&/^Filename:/{print $2; exit}')
  [ -n "$file" ] || return 1
  curl -fsS -o "$work/$pkg.deb" "$TRIXIE/$file" || return 1
  rm -rf "$work/$pkg" && dpkg-deb -x "$work/$pkg.deb" "$work/$pkg" || return 1
  mkdir -p "$plugins" && install -m 0755 "$work/$pkg/usr/libexec/docker/cli-plugins/$pkg" "$plugins/$pkg"
}
# Compose v2 (the `name:` key and `up --wait` need it); bookworm only has Compose 1.
docker compose version >/dev/null 2>&1 || trixie_plugin docker-compose || fail "cannot install Compose v2"
docker buildx version >/dev/null 2>&1 || trixie_plugin docker-buildx || fail "cannot install buildx"
if ! docker info >/dev/null 2>&1; then
  # vfs: works on any filesystem (overlay on overlay does not); --iptables=false: the sandbox's
  # packet filter is not docker's to manage; published ports go through docker-proxy.
  nohup dockerd --storage-driver=vfs --iptables=false > /var/log/compose-check-dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || fail "dockerd did not start (see dockerd.log)"
fi
# Without docker's iptables rules, containers reach Debian's mirror (apt-get in image builds)
# only through this masquerade rule.
iptables -t nat -C POSTROUTING -s 172.16.0.0/12 ! -o docker0 -j MASQUERADE 2>/dev/null \
  || iptables -t nat -A POSTROUTING -s 172.16.0.0/12 ! -o docker0 -j MASQUERADE
iptables -P FORWARD ACCEPT 2>/dev/null
# At its peak the check takes about 20 GiB (images, 14 containers' copies, volumes). A run that
# stopped half-way may have left its cache and images: those go first.
need=${COMPOSE_CHECK_MIN_FREE_GIB:-20}
[ "$(free_gib)" -ge "$need" ] || prune
[ "$(free_gib)" -ge "$need" ] || fail "only $(free_gib) GiB free under $(docker_root); the check needs ${need} GiB (COMPOSE_CHECK_MIN_FREE_GIB)"
for port in 3001 3002 3003 5050 15672 9200; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then fail "port $port is in use on 127.0.0.1"; fi
done
ok "$(docker version -f 'engine {{.Server.Version}}') , $(docker compose version --short | sed 's/^/compose /')"

# ------------------------------------------------------------------ base image
begin base-image
if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || quiet apt-get install -y debootstrap || fail "cannot install debootstrap"
  rootfs=$work/rootfs-bookworm
  rm -rf "$rootfs"
  # curl, tini, wget: what the stand-ins' healthchecks and entrypoints need; the project's
  # runtime stage installs its own packages as on the real image.
  quiet debootstrap --variant=minbase --include=ca-certificates,curl,tini,wget bookworm "$rootfs" "$TRIXIE" \
    || fail "debootstrap failed"
  tar -C "$rootfs" -c . | quiet docker import -c 'CMD ["bash"]' - debian:bookworm-slim || fail "docker import failed"
  rm -rf "$rootfs"
  ok "debootstrap bookworm, imported as debian:bookworm-slim"
else
  ok "debian:bookworm-slim present"
fi

# ------------------------------------------------------------------ binaries
begin binaries
# Debug binaries: on two cores they build much faster than release ones and are often built
# already; copied at once, since the target directory may be shared.
(cd "$repo" && quiet cargo build --bins) || fail "cargo build --bins failed"
rm -rf "$src" && mkdir -p "$src"
# The checkout as it is (tracked and new files, not ignored ones), not the user's .env.
(cd "$repo" && git ls-files -co --exclude-standard -z | grep -zv '^\.env$' | xargs -0 tar -c) | tar -C "$src" -x \
  || fail "cannot copy the checkout"
mkdir -p "$src/deploy/compose-check/prebuilt"
# Without their debug info (symbols stay, for backtraces): a debug binary is mostly DWARF, and
# vfs stores each image layer and each container's file system as a full copy.
for b in orchestrator listener runner chatops health-monitor jenkins-sim log-generator; do
  objcopy --strip-debug "$CARGO_TARGET_DIR/debug/$b" "$src/deploy/compose-check/prebuilt/$b" || fail "no binary $b"
done
objcopy --strip-debug "$CARGO_TARGET_DIR/debug/es-sim" "$src/deploy/compose-check/elasticsearch/es-sim" || fail "no binary es-sim"
ok "debug binaries (debug info stripped, $(du -sm "$src/deploy/compose-check/prebuilt" | cut -f1) MiB) copied into the build context"

# ------------------------------------------------------------------ stand-in images
begin stand-in-images
cd "$src" || fail "no $src"
for pair in postgres=postgres:16 rabbitmq=rabbitmq:3.13-management nginx=nginx:1.27-alpine \
            elasticsearch=docker.elastic.co/elasticsearch/elasticsearch:8.17.0; do
  dir=${pair%%=*} tag=${pair#*=}
  DOCKER_BUILDKIT=1 quiet docker build --pull=false --label runbooks.compose-check=stand-in \
    -t "$tag" "deploy/compose-check/$dir" || fail "stand-in $dir does not build"
done
ok "postgres, rabbitmq, nginx, elasticsearch (test-only)"

# ------------------------------------------------------------------ the README, literally
begin init-env
deploy/init-env.sh > "$work/init-env.out" 2>&1 || fail "deploy/init-env.sh failed"
TOKEN=$(grep -o 'rbk_[0-9a-f]*' "$work/init-env.out" | head -1)
DASH=$(sed -n 's/.*dashboard: .*(admin \/ \([0-9a-f]*\)).*/\1/p' "$work/init-env.out")
RABBIT=$(sed -n 's/^RABBITMQ_PASSWORD=//p' .env)
[ -n "$TOKEN" ] && [ -n "$DASH" ] && [ -n "$RABBIT" ] || fail "init-env.sh printed no token or password"
ok ".env written, token printed"

# ------------------------------------------------------------------ project images
begin project-images
quiet docker compose --profile demo build --build-arg BINARIES=prebuilt || fail "docker compose build failed"
ok "deploy/docker/Dockerfile, BINARIES=prebuilt"

begin up-wait
down_existing() { quiet docker compose --profile demo down -v --remove-orphans; }
down_existing
quiet docker compose up -d --wait --pull never || fail "docker compose up -d --wait failed"
ok "$(docker compose ps --format '{{.Service}}' | wc -l) services healthy"

api() { curl -sS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:3001$1"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
begin gateway
[ "$(code -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3001/api/me)" = 200 ] || fail "the printed token is refused on 3001"
[ "$(code -H 'Authorization: Bearer rbk_wrong' http://127.0.0.1:3001/api/me)" = 401 ] || fail "a wrong token is not 401"
[ "$(code -u "admin:$DASH" http://127.0.0.1:5050/)" = 200 ] || fail "dashboard on 5050 refuses its password"
[ "$(code http://127.0.0.1:5050/)" = 401 ] || fail "dashboard on 5050 answers without a password"
[ "$(code -u "runbooks:$RABBIT" http://127.0.0.1:15672/api/overview)" = 200 ] || fail "RabbitMQ management on 15672"
ok "token on 3001, dashboard on 5050, RabbitMQ management on 15672"

# ------------------------------------------------------------------ the story
py() { python3 -c "$@"; }
incidents() { api '/api/incidents?limit=200'; }
# Waits until the incidents (JSON on stdin to the Python predicate) satisfy a predicate.
wait_for() { # seconds description python-predicate-on-`items`
  local secs=$1 what=$2 pred=$3
  for _ in $(seq "$secs"); do
    if incidents | py "import json,sys; items=json.load(sys.stdin)['items']; sys.exit(0 if ($pred) else 1)" 2>/dev/null; then
      return 0
    fi
    sleep 1
  done
  fail "$what not within ${secs}s: $(incidents | head -c 600)"
}

begin story
quiet docker compose --profile demo up -d --wait --pull never || fail "--profile demo up failed"
# The generator fails a build every 120 s: one job's "Finished: FAILURE" in logs-jenkins-demo.
wait_for 240 "a resolved Jenkins incident" "any(i.get('status')=='resolved' and i.get('source')=='jenkins' for i in items)"
first=$(incidents | py "import json,sys; items=json.load(sys.stdin)['items']; r=[i for i in items if i['status']=='resolved' and i['source']=='jenkins']; print(r[0]['id'])")
detail=$(api "/api/incidents/$first")
echo "$detail" > "$ARTIFACTS/first-incident.json"
echo "$detail" | py "
import json,sys
d=json.load(sys.stdin)
acts=d.get('actions') or []
done=[a for a in acts if a.get('status') in ('succeeded','completed','success')]
sys.exit(0 if done and not any(a.get('dry_run') for a in acts) else 1)" \
  || fail "incident $first resolved without a real restart: $(echo "$detail" | head -c 800)"
ok "incident $first: failed build → restart on jenkins-sim → resolved (REST)"

# ------------------------------------------------------------------ scale
health_count() { docker compose ps --format '{{.Service}} {{.Health}}' | awk -v s="$1" '$1==s && $2=="healthy"' | wc -l; }
scaled_up() {
  quiet docker compose --profile demo up -d --wait --pull never \
    --scale runner=3 --scale orchestrator=2 --scale listener=2
}
begin scale
scaled_up || fail "up --scale runner=3 --scale orchestrator=2 --scale listener=2 failed"
r=$(health_count runner) o=$(health_count orchestrator) l=$(health_count listener)
[ "$r" = 3 ] && [ "$o" = 2 ] && [ "$l" = 2 ] || fail "healthy: runner $r/3, orchestrator $o/2, listener $l/2"
# The gateway re-resolves service names every 10 s (resolver valid=10s in its nginx.conf).
sleep 11
since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for _ in $(seq 20); do api /api/me > /dev/null || fail "a request through the gateway failed"; done
sleep 1
spread=$(docker compose logs --no-color --since "$since" gateway | grep 'GET /api/me' | grep -o 'upstream=[0-9.:]*' | sort | uniq -c | tr -s ' ' | paste -sd, -)
[ "$(echo "$spread" | tr ',' '\n' | grep -c upstream)" -ge 2 ] || fail "the gateway sent every request to one replica: $spread"
ok "runner 3, orchestrator 2, listener 2 healthy; 20 requests:$spread"

# ------------------------------------------------------------------ docker kill mid-story
# Everything the check knows about the story: incidents with their actions (REST), the failed
# builds in Elasticsearch, the builds jenkins-sim ran.
audit() { # prints problems, one a line; nothing when the story is whole
  local es jobs
  es=$(curl -sS -X POST 'http://127.0.0.1:9200/logs-jenkins*/_search' -H 'content-type: application/json' \
       -d '{"size":10000,"query":{"match_all":{}}}')
  jobs="{"
  for job in deploy-staging api-gateway build-app; do
    jobs="$jobs\"$job\": $(docker compose exec -T jenkins-sim curl -fsS "http://127.0.0.1:8080/job/$job/api/json?tree=builds%5Bnumber%5D"),"
  done
  jobs="${jobs%,}}"
  local details="["
  for id in $(incidents | py "import json,sys; print(' '.join(str(i['id']) for i in json.load(sys.stdin)['items']))"); do
    details="$details$(api "/api/incidents/$id"),"
  done
  details="${details%,}]"
  [ "$details" = "]" ] && details="[]"
  printf '%s\n%s\n%s\n' "$es" "$jobs" "$details" > "$work/audit.json"
  python3 - "$work/audit.json" <<'PY'
import json, sys
es, jobs, incidents = (json.loads(l) for l in open(sys.argv[1]))
docs = [h["_source"] for h in es["hits"]["hits"]]
failed = {(d["jenkins"]["job"]["name"], d["jenkins"]["build"]["number"]) for d in docs if d.get("message") == "Finished: FAILURE"}
logged = {(d["jenkins"]["job"]["name"], d["jenkins"]["build"]["number"]) for d in docs if "jenkins" in d}
seen = {}
restarted = set()
for d in incidents:
    i = d["incident"]
    if i["source"] != "jenkins":
        continue  # the generator's 5xx bursts: no action resolves them
    key = (i["job_name"], i["build_number"])
    seen.setdefault(key, []).append(i["id"])
    acts = [a for a in d["actions"] if a["action_type"] == "restart"]
    if i["status"] != "resolved":
        print(f"incident {i['id']} ({key}) is {i['status']}")
    if len(acts) != 1:
        print(f"incident {i['id']} has {len(acts)} restart actions")
    for a in acts:
        if a["status"] != "completed" or a["dry_run"]:
            print(f"action {a['id']} is {a['status']} (dry_run {a['dry_run']})")
        n = (a.get("result") or {}).get("build_number")
        if n is not None:
            restarted.add((i["job_name"], n))
for key, ids in seen.items():
    if len(ids) > 1:
        print(f"build {key} has {len(ids)} incidents: {ids}")
for key in failed - set(seen):
    print(f"failed build {key} has no incident (lost)")
for job, j in jobs.items():
    for b in j["builds"]:
        key = (job, b["number"])
        if b["number"] > 5 and key not in logged and key not in restarted:
            print(f"jenkins-sim ran {key}, which neither the generator logged nor an action restarted (doubled)")
PY
}

begin kill-mid-story
last=$(incidents | py "import json,sys; print(max([i['id'] for i in json.load(sys.stdin)['items']] or [0]))")
# Only Jenkins incidents: the generator's 5xx bursts open API incidents that no action resolves.
victim_runner="" action=""
for _ in $(seq 1200); do # 0.2 s polls: the generator's next failure comes within 120 s
  new=$(incidents | py "import json,sys; n=[i['id'] for i in json.load(sys.stdin)['items'] if i['id']>$last and i['source']=='jenkins']; print(min(n) if n else '')" 2>/dev/null)
  if [ -n "$new" ]; then
    # The runner that claimed the restart, if it is still in hand: its id starts with the
    # container's hostname (runner-<container id>-...).
    claimed=$(api "/api/incidents/$new" | py "import json,sys; a=[x for x in json.load(sys.stdin)['actions'] if x['status'] in ('claimed','running','pending','in_progress','started')]; print((a[0].get('claimed_by') or '') + ' ' + a[0]['status'] if a else '')" 2>/dev/null)
    if [ -n "$claimed" ]; then action=$claimed; break; fi
    action="none in hand"; break
  fi
  sleep 0.2
done
[ -n "$new" ] || fail "no new incident within 240 s"
host=$(echo "$action" | sed -n 's/^runner-\([0-9a-f]\{12\}\)-.*/\1/p')
if [ -n "$host" ] && docker inspect "$host" > /dev/null 2>&1; then
  victim_runner=$host
else
  victim_runner=$(docker compose ps -q runner | head -1)
fi
victim_orch=$(docker compose ps -q orchestrator | head -1)
quiet docker kill "$victim_runner" "$victim_orch" || fail "docker kill failed"
echo "killed runner $victim_runner and orchestrator $victim_orch at incident $new (action: $action)" >> "$log"
# A killed runner's lease (runner.lease_secs, 60 s) expires before another replica takes over.
for _ in $(seq 180); do
  problems=$(audit)
  [ -z "$problems" ] && break
  sleep 1
done
[ -z "$problems" ] || fail "after docker kill: $(echo "$problems" | head -5 | paste -sd';' -)"
total=$(incidents | py "import json,sys; print(json.load(sys.stdin)['total'])")
ok "killed the runner holding incident $new's restart ($action) and an orchestrator; $total incidents, each failed build once, each restart once, all resolved"

# ------------------------------------------------------------------ what restarts a replica
begin restart-policy
state() { docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' "$1"; }
# docker kill is a manual stop: `restart: unless-stopped` leaves the container exited
# (docs/SCALING.md), until `docker compose up` starts it again.
[ "$(state "$victim_runner" | cut -d' ' -f1,2)" = "exited 137" ] || fail "killed runner: $(state "$victim_runner")"
# A replica that dies on its own (here: its process gets SIGKILL inside the container, as the
# OOM killer would) is restarted by Docker.
crash=$(docker compose ps -q runner | grep -v "^$victim_runner" | head -1)
before=$(docker inspect -f '{{.RestartCount}}' "$crash")
quiet docker exec "$crash" sh -c 'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = runner ] && kill -9 "${p#/proc/}"; done; true'
for _ in $(seq 60); do
  [ "$(docker inspect -f '{{.RestartCount}} {{.State.Health.Status}}' "$crash")" = "$((before + 1)) healthy" ] && break
  sleep 1
done
[ "$(docker inspect -f '{{.RestartCount}} {{.State.Health.Status}}' "$crash")" = "$((before + 1)) healthy" ] \
  || fail "a crashed runner was not restarted: $(state "$crash")"
scaled_up || fail "docker compose up did not bring the killed replicas back"
r=$(health_count runner) o=$(health_count orchestrator)
[ "$r" = 3 ] && [ "$o" = 2 ] || fail "after up: runner $r/3, orchestrator $o/2 healthy"
ok "docker kill: stays exited; crash: restarted by Docker; compose up: back to 3 runners, 2 orchestrators"

# ------------------------------------------------------------------ volumes
ids() { incidents | py "import json,sys; print(' '.join(sorted(str(i['id']) for i in json.load(sys.stdin)['items'])))"; }
begin down-up
kept=$(ids)
quiet docker compose --profile demo down || fail "docker compose down failed"
quiet docker compose up -d --wait --pull never || fail "docker compose up after down failed"
after=" $(ids) "
for id in $kept; do case "$after" in *" $id "*) ;; *) fail "incident $id is gone after down/up" ;; esac; done
ok "$(echo "$kept" | wc -w) incidents kept across down and up"

begin down-v
quiet docker compose --profile demo down -v --remove-orphans || fail "docker compose down -v failed"
label="label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"
left="$(docker ps -aq --filter "$label") $(docker volume ls -q --filter "$label") $(docker network ls -q --filter "$label")"
[ -z "${left// /}" ] || fail "left behind: $left"
ok "no container, volume or network left"

$keep || prune
echo "compose-check: passed in $(( $(date +%s) - started ))s ($(free_gib) GiB free under $(docker_root))"
if $keep; then quiet docker compose up -d --wait --pull never; fi
exit 0
}
