#!/usr/bin/env bash
# Runs every test of nsguard.docker: units, linters, ansible-test sanity, the built
# collection installed from its tarball, and the molecule scenarios in real VMs (tests/lab).
# Needs tests/setup.sh first. Knobs for development:
#   NSGUARD_SCENARIOS="subids engine"  only these VM scenarios
#   NSGUARD_PLATFORMS="noble"          only the scenarios with a platform on these systems
#   NSGUARD_ONLY_LAB=1                 only the VM scenarios (no units, linters, sanity, galaxy)
#   NSGUARD_SKIP_VMS=1                 everything but the VM scenarios
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT="$PWD"
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.cache/collections"
export PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1
OUT="$ROOT/tests/output"
mkdir -p "$OUT"
rm -f "$OUT/lab-failures.txt"
WORK="$(mktemp -d)"
passed=0; failed=0; failures=()
declare -A seconds

cleanup() {
  # Only a run that started VMs stops them: a fast run must not kill a lab run beside it.
  [ "${NSGUARD_SKIP_VMS:-0}" = 1 ] || python "$ROOT/tests/lab/lab.py" down --all >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "run-all: interrupted"; exit 130' INT TERM

stage() {  # stage NAME COMMAND...
  local name="$1"; shift
  echo
  echo "=== $name ==="
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); echo "=== $name: passed ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=== $name: FAILED ($((SECONDS - t0)) s)"
  fi
  seconds[$name]=$((SECONDS - t0))
}

units() {
  pytest -q -p no:cacheprovider tests/unit tests/lab/test_lab.py
}

# ansible-lint installs a copy of the collection under $HOME/.ansible, which molecule
# would then prefer to this checkout: give it a throwaway HOME.
lint() {
  yamllint -s . && antsibull-changelog lint &&
    HOME="$WORK/lint-home" ansible-lint --profile production
}

# ansible-test wants the collection at ansible_collections/<ns>/<name>: sanity runs on a
# copy of the tracked files (what would be committed), with its own pinned test venvs.
sanity() {
  local tree="$WORK/sanity/ansible_collections/nsguard/docker"
  mkdir -p "$tree"
  git ls-files -z --cached --others --exclude-standard | rsync -a --files-from=- --from0 ./ "$tree/"
  (cd "$tree" && ansible-test sanity --venv --python 3.11 --color no)
}

# The built artefact, installed as a user would, calls the module by its FQCN.
galaxy_install() {
  local dist="$WORK/dist" coll="$WORK/installed"
  mkdir -p "$dist" "$coll"
  ansible-galaxy collection build --force --output-path "$dist" . &&
  ansible-galaxy collection install --force -p "$coll" "$dist"/nsguard-docker-*.tar.gz &&
  ANSIBLE_COLLECTIONS_PATH="$coll" ansible-playbook -i localhost, -c local \
    -e "work=$WORK/smoke" tests/integration/galaxy_smoke.yml
}

vagrant_syntax() {
  molecule syntax -s default
}

scenarios() {
  local list="${NSGUARD_SCENARIOS:-}"
  if [ -z "$list" ]; then
    list="$(cd molecule && for d in */; do d="${d%/}"; case "$d" in default|resources) ;; *) echo "$d";; esac; done | sort | tr '\n' ' ')"
  fi
  local names
  read -r -a names <<< "$list"
  python tests/lab/lab.py build >/dev/null && python tests/lab/lab.py test "${names[@]}"
}

if [ "${NSGUARD_ONLY_LAB:-0}" != 1 ]; then
  stage "unit tests" units
  stage "yamllint, changelog lint, ansible-lint (production)" lint
  stage "ansible-test sanity" sanity
  stage "galaxy build and install" galaxy_install
  stage "molecule syntax (vagrant scenario)" vagrant_syntax
fi
if [ "${NSGUARD_SKIP_VMS:-0}" != 1 ]; then
  stage "molecule scenarios in the VM lab" scenarios
fi

echo
echo "=== summary ==="
for k in "${!seconds[@]}"; do printf '%6s s  %s\n' "${seconds[$k]}" "$k"; done
[ "${#failures[@]}" -eq 0 ] || echo "failed: ${failures[*]}"
# Last, so that a CI log cut to its tail still says which task failed and why.
if [ -s "$OUT/lab-failures.txt" ]; then
  echo; echo "=== what failed in the VM lab (tests/output/lab-failures.txt) ==="; cat "$OUT/lab-failures.txt"
fi
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
