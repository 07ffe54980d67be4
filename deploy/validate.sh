#!/usr/bin/env bash
# Validates the deployment files with real tools, offline (schemas are vendored in
# deploy/schemas/):
#   - docker-compose.yml against the compose-spec JSON Schema (check-jsonschema);
#   - .github/workflows/*.yml against the GitHub workflow schema;
#   - every Kustomize overlay (and the base) rendered by `kubectl kustomize` and validated by
#     kubernetes-validate --strict, for the newest and an older Kubernetes;
#   - the shell scripts with shellcheck;
#   - deploy/validate/checks.py: what no schema says (no secret defaults, scaling, probes,
#     Kibana NDJSON and its fields, the Slack manifest, collector pipelines, the workspace
#     layout: no test code in what ships...);
#   - deploy/validate/doclinks.py: README.md and docs/ name only files that exist (relative
#     links and their anchors, repository paths);
#   - deploy/validate/modcycles.py: no import circle between the top-level modules of a crate.
# `make test` runs it. With --install, missing tools are installed (pip, pinned in
# deploy/validate/requirements.txt) into a venv of their own; without it, a missing tool is
# an error that names it.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${RUNBOOKS_VALIDATE_VENV:-$HOME/.cache/runbooks-validate-venv}"
requirements=deploy/validate/requirements.txt

if [ "${1:-}" = "--install" ]; then
  stamp="$venv/.requirements"
  if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
    echo "[validate] installing tools into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
  fi
fi
[ -d "$venv/bin" ] && export PATH="$venv/bin:$PATH"

missing=()
for tool in check-jsonschema kubernetes-validate kubectl shellcheck python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
python3 -c 'import yaml' 2>/dev/null || missing+=("python3 module yaml (PyYAML)")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[validate] missing: ${missing[*]}" >&2
  echo "[validate] run deploy/validate.sh --install (pip, $requirements)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { printf '[validate] %s\n' "$*"; }

step "compose file against the compose-spec schema"
check-jsonschema --schemafile deploy/schemas/compose-spec.json docker-compose.yml

step "GitHub workflows against their schema"
check-jsonschema --schemafile deploy/schemas/github-workflows.json .github/workflows/*.yml

mkdir -p "$work/k8s"
for dir in deploy/k8s/base deploy/k8s/overlays/*/; do
  name=$(basename "$dir")
  step "kubectl kustomize $dir"
  kubectl kustomize "$dir" > "$work/k8s-$name.yaml"
  for version in 1.37.0 1.30.0; do
    kubernetes-validate --strict --quiet --kubernetes-version "$version" "$work/k8s-$name.yaml"
  done
  # checks.py reads the overlays; the base alone has no environment to check.
  [ "$name" = base ] || cp "$work/k8s-$name.yaml" "$work/k8s/$name.yaml"
done
step "kubernetes manifests valid (strict) for 1.37 and 1.30"

step "shell scripts (shellcheck)"
shellcheck --severity=warning .ci/run deploy/*.sh deploy/*/setup.sh deploy/validate/*.sh

step "deployment checks"
python3 deploy/validate/checks.py "$work/k8s"

step "documentation references (links, repository paths)"
python3 deploy/validate/test_doclinks.py --quiet
python3 deploy/validate/doclinks.py

step "no import circles between the top-level modules of a crate"
python3 deploy/validate/test_modcycles.py --quiet
python3 deploy/validate/modcycles.py

step "make run: a port per service, the URLs that answer, one failure stops all"
deploy/validate/test_run_local.sh

if docker compose version >/dev/null 2>&1; then
  step "docker compose config (with generated secrets)"
  mkdir -p "$work/env" && cp .env.example "$work/env/" && mkdir -p "$work/env/deploy" \
    && cp deploy/init-env.sh "$work/env/deploy/" && "$work/env/deploy/init-env.sh" >/dev/null
  docker compose --env-file "$work/env/.env" --profile demo --profile llm config --quiet
else
  step "docker compose not installed here: the schema and deployment checks above cover the compose file"
fi
step "all deployment files valid"
