#!/usr/bin/env python3
"""Checks of the deployment files that no schema expresses (run by deploy/validate.sh).

Each check prints `ok   <what>` or `FAIL <what>: <why>`; the exit status is 1 when any failed.
Usage: checks.py RENDERED_K8S_DIR   (the overlays rendered by `kubectl kustomize`, one file each)
"""

import json
import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVICES = ["orchestrator", "listener", "runner", "chatops", "health-monitor"]
PORTS = {"orchestrator": 3001, "chatops": 3002, "listener": 3003, "runner": 3004, "health-monitor": 5050}
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN", re.I)
failures = []


def check(what, problems):
    """problems: a list of strings (empty = ok)."""
    if problems:
        failures.append(what)
        print(f"FAIL {what}:")
        for p in problems:
            print(f"       - {p}")
    else:
        print(f"ok   {what}")


def load_yaml(path):
    return yaml.safe_load(path.read_text())


def seconds(text):
    """Compose durations: 60s, 1m30s, 90."""
    total, n = 0, ""
    for ch in str(text):
        if ch.isdigit():
            n += ch
        else:
            total += int(n or 0) * {"s": 1, "m": 60, "h": 3600}[ch]
            n = ""
    return total + int(n or 0)


# ------------------------------------------------------------------------- compose

def compose_checks():
    raw = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(raw)
    services = compose["services"]
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.M))

    refs = re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}", raw)
    problems = []
    for name, op, default in refs:
        if name not in documented:
            problems.append(f"${{{name}}} is not in .env.example")
        if SECRETISH.search(name) and op in (":-", "-") and default.strip():
            problems.append(f"${{{name}}} has a default value: secrets must have none")
    check("compose: every variable is documented in .env.example; no secret has a default", problems)

    problems = []
    for key in sorted(documented):
        if SECRETISH.search(key):
            m = re.search(rf"^{key}=(.*)$", example, re.M)
            if m and m.group(1).strip():
                problems.append(f".env.example gives {key} a value")
    check(".env.example: no secret value committed", problems)

    problems = []
    for name, svc in services.items():
        env = svc.get("environment") or {}
        items = env.items() if isinstance(env, dict) else (e.split("=", 1) for e in env)
        for key, value in items:
            if SECRETISH.search(key) and value not in (None, "") and "${" not in str(value) \
                    and not str(key).endswith("_USERNAME"):
                problems.append(f"{name}: {key} is a literal")
            if isinstance(value, str) and re.search(r"://[^/:@]+:[^$/@]+@", value):
                problems.append(f"{name}: {key} holds a literal password in a URL")
    check("compose: no literal secret in any environment", problems)

    problems = []
    for name in SERVICES:
        svc = services.get(name)
        if svc is None:
            problems.append(f"{name}: missing")
            continue
        if "container_name" in svc:
            problems.append(f"{name}: container_name prevents --scale")
        if svc.get("ports"):
            problems.append(f"{name}: a published port prevents --scale (publish through the gateway)")
        test = " ".join(svc.get("healthcheck", {}).get("test", []))
        if "/ready" not in test:
            problems.append(f"{name}: healthcheck does not probe /ready")
        port = str((svc.get("environment") or {}).get("RUNBOOKS__HTTP__PORT", ""))
        if port != str(PORTS[name]):
            problems.append(f"{name}: RUNBOOKS__HTTP__PORT {port!r}, expected {PORTS[name]}")
    check("compose: the five services scale (no container_name, no host port) and probe /ready", problems)

    problems = []
    for name, svc in services.items():
        for spec in svc.get("ports") or []:
            text = spec if isinstance(spec, str) else f"{spec.get('host_ip', '')}:{spec.get('published')}"
            if not str(text).startswith("127.0.0.1:"):
                problems.append(f"{name}: {text} is not bound to 127.0.0.1")
    check("compose: published ports bind 127.0.0.1", problems)

    problems = []
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append(f"{name}: depends_on without conditions")
            continue
        for dep, cond in deps.items():
            target = services.get(dep)
            if target is None:
                problems.append(f"{name}: depends on unknown {dep}")
                continue
            c = cond.get("condition")
            if c == "service_healthy" and "healthcheck" not in target:
                problems.append(f"{name}: waits for {dep} to be healthy but {dep} has no healthcheck")
            if c == "service_completed_successfully" and target.get("restart") not in ("no", None):
                problems.append(f"{name}: waits for one-shot {dep}, whose restart is {target.get('restart')!r}")
            if c == "service_started":
                problems.append(f"{name}: depends on {dep} without waiting for health or completion")
            if set(target.get("profiles") or []) - set(svc.get("profiles") or []):
                problems.append(f"{name}: depends on {dep}, which only runs under a profile")
    check("compose: depends_on waits on health checks and completed one-shots", problems)

    runner = services["runner"]
    grace = seconds(runner.get("stop_grace_period", "10s"))
    drain = int(runner["environment"].get("RUNBOOKS__SHUTDOWN__GRACE_SECS", 10))
    check(
        "compose: the runner's stop grace period covers its drain",
        [] if grace >= 60 and grace > drain else [f"stop_grace_period {grace}s, drain {drain}s"],
    )

    problems = []
    for name, profile in [("log-generator", "demo"), ("ollama", "llm"), ("ollama-pull", "llm")]:
        if profile not in (services.get(name, {}).get("profiles") or []):
            problems.append(f"{name} is not under profile {profile}")
    for name in ["postgres", "rabbitmq", "elasticsearch", "kibana", "otel-collector", "migrate",
                 "kibana-setup", "elasticsearch-setup", "jenkins-sim", "gateway"] + SERVICES:
        if name not in services:
            problems.append(f"{name} is missing")
        elif services[name].get("profiles"):
            problems.append(f"{name} should run without a profile")
    check("compose: the whole stack is there; demo and llm under their profiles", problems)

    dockerfile = (ROOT / "deploy/docker/Dockerfile").read_text()
    targets = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile, re.M | re.I))
    problems = []
    for name, svc in services.items():
        build = svc.get("build")
        if build:
            if build.get("dockerfile") != "deploy/docker/Dockerfile":
                problems.append(f"{name}: builds another Dockerfile")
            if build.get("target") not in targets:
                problems.append(f"{name}: build target {build.get('target')!r} not in the Dockerfile")
        for vol in svc.get("volumes") or []:
            src = str(vol).split(":")[0]
            if src.startswith("./") and not (ROOT / src).exists():
                problems.append(f"{name}: mounts missing {src}")
        cmd = svc.get("command") or []
        if cmd and isinstance(cmd, list) and str(cmd[0]).startswith("/opt/runbooks/"):
            local = ROOT / "deploy" / str(cmd[0])[len("/opt/runbooks/"):]
            if not local.exists():
                problems.append(f"{name}: runs {cmd[0]}, but {local} does not exist")
    check("compose: build targets, mounted files and setup scripts exist", problems)

    problems = []
    bins = set(re.findall(r"--bin\s+(\S+)", dockerfile))
    for b in sorted(bins):
        if not ((ROOT / "services" / b / "src/main.rs").exists()
                or (ROOT / f"tools/src/bin/{b}.rs").exists()
                or (ROOT / f"tools/src/bin/{b}/main.rs").exists()):
            problems.append(f"--bin {b}: no such binary in the workspace")
    for t in SERVICES:
        if t not in targets:
            problems.append(f"no Dockerfile target {t}")
    if not re.search(r"^USER\s+10001", dockerfile, re.M):
        problems.append("the runtime image does not run as uid 10001")
    if "HEALTHCHECK" not in dockerfile:
        problems.append("no HEALTHCHECK")
    if "cargo chef cook" not in dockerfile:
        problems.append("dependencies are not cached in a layer of their own (cargo chef)")
    check("Dockerfile: one target per service, existing binaries, non-root, HEALTHCHECK", problems)


# ------------------------------------------------------------------------- collector

def collector_checks():
    cfg = load_yaml(ROOT / "deploy/otel-collector/config.yaml")
    compose = load_yaml(ROOT / "docker-compose.yml")
    problems = []
    for kind in ["receivers", "processors", "exporters"]:
        defined = set(cfg.get(kind) or {})
        for pname, p in cfg["service"]["pipelines"].items():
            for comp in p.get(kind) or []:
                if comp not in defined:
                    problems.append(f"pipeline {pname} uses undefined {kind[:-1]} {comp}")
    for ext in cfg["service"].get("extensions") or []:
        if ext not in (cfg.get("extensions") or {}):
            problems.append(f"undefined extension {ext}")
    for signal in ["traces", "logs", "metrics"]:
        p = cfg["service"]["pipelines"].get(signal)
        if not p or "otlp" not in p["receivers"] or "elasticsearch" not in p["exporters"]:
            problems.append(f"{signal}: not OTLP in, Elasticsearch out")
    env = compose["services"]["otel-collector"].get("environment") or {}
    for var in re.findall(r"\$\{env:([A-Z0-9_]+)\}", (ROOT / "deploy/otel-collector/config.yaml").read_text()):
        if var not in env:
            problems.append(f"${{env:{var}}} is not set on the otel-collector service")
    check("otel-collector: pipelines reference defined components; env provided by compose", problems)


# ------------------------------------------------------------------------- kibana

# Fields of the Jenkins / API documents the listener reads by default (ECS), which the
# log generator writes and an external shipper (Filebeat, the collector) would.
ECS_LOG_FIELDS = {
    "@timestamp", "message", "log.level", "jenkins.job.name", "jenkins.build.number",
    "service.name", "url.path", "http.request.method", "http.response.status_code",
    "event.duration",
}


def mapped_fields(template_path):
    props = json.loads(template_path.read_text())["template"]["mappings"]["properties"]
    out = set()

    def walk(prefix, node):
        for k, v in node.items():
            name = f"{prefix}{k}"
            if "properties" in v:
                walk(name + ".", v["properties"])
            else:
                out.add(name)

    walk("", props)
    return out


def kibana_checks():
    path = ROOT / "deploy/kibana/saved-objects.ndjson"
    text = path.read_text()
    problems, objects = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        try:
            objects.append(json.loads(line))
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: {e}")
    check("kibana: saved-objects.ndjson parses as NDJSON", problems)
    if problems:
        return

    problems = []
    ids = {}
    for o in objects:
        for key in ["id", "type", "attributes", "references"]:
            if key not in o:
                problems.append(f"{o.get('id')}: no {key}")
        if (o.get("type"), o.get("id")) in ids:
            problems.append(f"duplicate {o['type']} {o['id']}")
        ids[(o.get("type"), o.get("id"))] = o
    for o in objects:
        for ref in o.get("references", []):
            if (ref["type"], ref["id"]) not in ids:
                problems.append(f"{o['id']}: reference to missing {ref['type']} {ref['id']}")
        attrs = o["attributes"]
        for key in ["panelsJSON", "optionsJSON", "visState", "uiStateJSON"]:
            if key in attrs:
                try:
                    json.loads(attrs[key])
                except json.JSONDecodeError as e:
                    problems.append(f"{o['id']}: {key} is not JSON: {e}")
        meta = attrs.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
        if meta is not None:
            try:
                json.loads(meta)
            except json.JSONDecodeError as e:
                problems.append(f"{o['id']}: searchSourceJSON is not JSON: {e}")
        if o["type"] == "dashboard":
            panels = json.loads(attrs["panelsJSON"])
            names = {r["name"] for r in o["references"]}
            for p in panels:
                if f"{p['panelIndex']}:{p['panelRefName']}" not in names:
                    problems.append(f"{o['id']}: panel {p['panelIndex']} has no reference")
        if o["type"] == "visualization" and json.loads(attrs["visState"]).get("type") == "vega":
            try:
                json.loads(json.loads(attrs["visState"])["params"]["spec"])
            except json.JSONDecodeError as e:
                problems.append(f"{o['id']}: vega spec is not JSON: {e}")
    types = {t for t, _ in ids}
    for needed in ["index-pattern", "lens", "dashboard"]:
        if needed not in types:
            problems.append(f"no {needed}")
    check("kibana: objects complete, references resolve, embedded JSON parses", problems)

    # Every field a visualization or search reads is mapped by our index templates, or is an
    # ECS field of the Jenkins/API documents.
    views = {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    logs = mapped_fields(ROOT / "deploy/elasticsearch/logs-runbooks.template.json")
    metrics = mapped_fields(ROOT / "deploy/elasticsearch/metrics-runbooks.template.json")
    known = {"logs-runbooks-*": logs, "metrics-runbooks-*": metrics,
             "logs-jenkins*,logs-api*": ECS_LOG_FIELDS, "traces-runbooks-*": {"@timestamp"}}
    problems = []
    for o in objects:
        view_ref = next((r["id"] for r in o["references"] if r["type"] == "index-pattern"), None)
        fields = set()
        if o["type"] == "lens":
            for layer in o["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values():
                for col in layer["columns"].values():
                    if col.get("sourceField") not in (None, "___records___"):
                        fields.add(col["sourceField"])
        elif o["type"] == "search":
            fields |= set(o["attributes"]["columns"])
            query = json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
            fields |= set(re.findall(r"([\w.@]+)\s*:", query))
        elif o["type"] == "visualization":
            spec = json.loads(json.loads(o["attributes"]["visState"])["params"]["spec"])
            index = spec["data"]["url"]["index"]
            fields |= set(re.findall(r'"field": "([^"]+)"', json.dumps(spec["data"]["url"]["body"])))
            view_ref = next((i for i, t in views.items() if t == index), None)
            if view_ref is None:
                problems.append(f"{o['id']}: vega reads {index}, which no data view covers")
                continue
        if view_ref is None:
            continue
        unknown = fields - known[views[view_ref]]
        if unknown:
            problems.append(f"{o['id']}: fields not mapped for {views[view_ref]}: {sorted(unknown)}")
    check("kibana: every field used is mapped (deploy/elasticsearch/*.template.json) or ECS", problems)

    generated = subprocess.run(
        [sys.executable, "-c",
         "import sys; sys.path.insert(0, 'deploy/kibana'); import build_saved_objects as b; "
         "sys.stdout.write(b.render())"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    check(
        "kibana: saved-objects.ndjson is what build_saved_objects.py writes",
        [] if generated == text else ["run python3 deploy/kibana/build_saved_objects.py and commit"],
    )


# ------------------------------------------------------------------------- slack

SLACK_SCOPES = {"app_mentions:read", "chat:write", "commands"}


def slack_checks():
    m = load_yaml(ROOT / "deploy/slack/manifest.yaml")
    problems = []
    name = (m.get("display_information") or {}).get("name", "")
    if not name or len(name) > 35:
        problems.append("display_information.name is required, at most 35 characters")
    desc = (m.get("display_information") or {}).get("description", "")
    if len(desc) > 140:
        problems.append("display_information.description: at most 140 characters")
    long_desc = (m.get("display_information") or {}).get("long_description", "")
    if long_desc and not 175 <= len(long_desc) <= 4000:
        problems.append("display_information.long_description: 175 to 4000 characters")
    bot = (m.get("features") or {}).get("bot_user") or {}
    if bot.get("display_name") != "devops-bot":
        problems.append("features.bot_user.display_name must be devops-bot")
    commands = (m.get("features") or {}).get("slash_commands") or []
    devops = [c for c in commands if c.get("command") == "/devops"]
    if not devops:
        problems.append("no /devops slash command")
    for c in commands:
        if not c.get("description"):
            problems.append(f"{c.get('command')}: description is required")
    scopes = set(((m.get("oauth_config") or {}).get("scopes") or {}).get("bot") or [])
    if SLACK_SCOPES - scopes:
        problems.append(f"missing bot scopes {sorted(SLACK_SCOPES - scopes)}")
    settings = m.get("settings") or {}
    events = settings.get("event_subscriptions") or {}
    if "app_mention" not in (events.get("bot_events") or []):
        problems.append("settings.event_subscriptions.bot_events lacks app_mention")
    inter = settings.get("interactivity") or {}
    if not inter.get("is_enabled"):
        problems.append("interactivity is not enabled (Approve / Deny buttons)")
    urls = {
        "/slack/commands": devops[0].get("url") if devops else None,
        "/slack/events": events.get("request_url"),
        "/slack/interactions": inter.get("request_url"),
    }
    if not settings.get("socket_mode_enabled"):
        for path, url in urls.items():
            if not url or not url.startswith("https://") or not url.endswith(path):
                problems.append(f"request URL for {path} must be https://.../{path.lstrip('/')} (got {url})")
    check("slack: manifest has the fields Slack requires and what chatops needs", problems)


# ------------------------------------------------------------------------- kubernetes

def k8s_checks(rendered_dir):
    problems = []
    files = sorted(pathlib.Path(rendered_dir).glob("*.yaml"))
    if not files:
        problems.append(f"nothing rendered in {rendered_dir}")
    for f in files:
        docs = [d for d in yaml.safe_load_all(f.read_text()) if d]
        kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
        deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
        for name in SERVICES:
            dep = deployments.get(name)
            if not dep:
                problems.append(f"{f.name}: no Deployment {name}")
                continue
            spec = dep["spec"]["template"]["spec"]
            c = spec["containers"][0]
            sc = c.get("securityContext") or {}
            psc = spec.get("securityContext") or {}
            if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
                    and "ALL" in (sc.get("capabilities") or {}).get("drop", [])):
                problems.append(f"{f.name}/{name}: not read-only, or privileges not dropped")
            if not (psc.get("runAsNonRoot") or sc.get("runAsNonRoot")):
                problems.append(f"{f.name}/{name}: may run as root")
            if (c.get("readinessProbe") or {}).get("httpGet", {}).get("path") != "/ready":
                problems.append(f"{f.name}/{name}: readiness probe is not /ready")
            if (c.get("livenessProbe") or {}).get("httpGet", {}).get("path") != "/health":
                problems.append(f"{f.name}/{name}: liveness probe is not /health")
            res = c.get("resources") or {}
            if not res.get("requests") or not (res.get("limits") or {}).get("memory"):
                problems.append(f"{f.name}/{name}: no requests or memory limit")
            if "replicas" not in dep["spec"]:
                problems.append(f"{f.name}/{name}: no replicas")
            port = next((e.get("value") for e in c.get("env", []) if e["name"] == "RUNBOOKS__HTTP__PORT"), None)
            if port != str(PORTS[name]):
                problems.append(f"{f.name}/{name}: RUNBOOKS__HTTP__PORT {port}")
            for e in c.get("env", []):
                if SECRETISH.search(e["name"]) and "value" in e and e["value"]:
                    problems.append(f"{f.name}/{name}: {e['name']} is a literal, not a Secret reference")
        runner = deployments.get("runner")
        if runner:
            spec = runner["spec"]["template"]["spec"]
            env = {e["name"]: e.get("value") for e in spec["containers"][0].get("env", [])}
            drain = int(env.get("RUNBOOKS__SHUTDOWN__GRACE_SECS") or 10)
            if spec.get("terminationGracePeriodSeconds", 30) <= drain:
                problems.append(f"{f.name}: runner terminationGracePeriodSeconds does not cover its drain ({drain}s)")
        if ("PodDisruptionBudget", "runner") not in kinds:
            problems.append(f"{f.name}: no PodDisruptionBudget for the runner")
        for ext in ["postgres", "rabbitmq", "elasticsearch"]:
            if ("Service", ext) not in kinds:
                problems.append(f"{f.name}: no external endpoint {ext}")
        if any(d["kind"] == "Secret" for d in docs):
            problems.append(f"{f.name}: a Secret is committed in the manifests")
    for name in ["rules.toml", "policy.toml"]:
        shipped = {"rules.toml": "crates/rules/default.toml",
                   "policy.toml": "crates/policy/default.toml"}[name]
        if (ROOT / "deploy/k8s/base/config" / name).read_text() != (ROOT / shipped).read_text():
            problems.append(f"deploy/k8s/base/config/{name} differs from {shipped}")
    check("k8s: hardened Deployments with probes, runner PDB and grace, external endpoints, "
          "no Secret, shipped rules and policy", problems)


def layout_checks():
    """Test code stays out of what ships: testkit is a library of fixtures, e2e only tests,
    and no service links either of them, or the tools, outside its dev-dependencies."""
    import tomllib

    def manifest(rel):
        return tomllib.loads((ROOT / rel / "Cargo.toml").read_text())

    problems = []
    members = manifest(".")["workspace"]["members"]
    for m in ["crates/*", "services/*", "e2e", "tools"]:
        if m not in members:
            problems.append(f"workspace members do not include {m}")
    testkit = ROOT / "crates/testkit"
    if (testkit / "src/bin").exists() or (testkit / "src/main.rs").exists() or "bin" in manifest("crates/testkit"):
        problems.append("crates/testkit has binaries: they belong in tools/")
    if set(manifest("e2e")) & {"dependencies", "bin"} or (ROOT / "e2e/src/main.rs").exists():
        problems.append("e2e ships code: it holds tests and dev-dependencies only")
    for svc in SERVICES:
        deps = manifest(f"services/{svc}").get("dependencies", {})
        for test_only in ["testkit", "tools", "e2e"]:
            if test_only in deps:
                problems.append(f"services/{svc} depends on {test_only} outside its dev-dependencies")
    for b in ["demo", "jenkins-sim", "log-generator"]:
        if not ((ROOT / f"tools/src/bin/{b}.rs").exists() or (ROOT / f"tools/src/bin/{b}/main.rs").exists()):
            problems.append(f"tools has no binary {b} (make demo, the demo-tools image)")
    check("layout: testkit a library, e2e tests only, no service links test code, tools' binaries", problems)


def main():
    layout_checks()
    compose_checks()
    collector_checks()
    kibana_checks()
    slack_checks()
    k8s_checks(sys.argv[1])
    if failures:
        print(f"\n{len(failures)} check(s) failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
