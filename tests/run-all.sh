#!/usr/bin/env bash
# Runs every test of nsguard.docker: units, linters, ansible-test sanity, the built
# collection installed from its tarball, and the molecule scenarios in real VMs (tests/lab).
# Runs tests/setup.sh first (the README's second command). Knobs for development:
#   NSGUARD_SCENARIOS="subids engine"  only these VM scenarios
#   NSGUARD_PLATFORMS="noble"          only the scenarios with a platform on these systems
#   NSGUARD_ONLY_LAB=1                 only the VM scenarios (no units, linters, sanity, galaxy)
#   NSGUARD_SKIP_VMS=1                 everything but the VM scenarios
#   NSGUARD_LAB_LANES=1                one VM scenario at a time (default: two lanes)
# When the VM scenarios run, the other stages run beside them at a low priority (nice 10)
# with their output kept until the scenarios are done, and this session's CPU group is
# raised to the guests' while the lab runs (measured in docs/lab.md).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# It sets the machine up itself (apt packages, .venv, .venv-oldest; quick when done).
bash tests/setup.sh || exit 1
ROOT="$PWD"
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.cache/collections"
export PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1
OUT="$ROOT/tests/output"
mkdir -p "$OUT"
rm -f "$OUT/lab-failures.txt"
WORK="$(mktemp -d)"
RESULTS="$WORK/results"  # one line per stage: rc, seconds, name
: > "$RESULTS"
static_pid=""
session_nice=""

# The lab's guests (QEMU) run in CPU groups of their own at a raised priority
# (tests/lab/lab.py, prioritize), and with two lanes they take both cores beside a busy
# process. Ansible's controller side and the static stages run in this session's group:
# raised to the same for the run, they are not left waiting behind the guests (the static
# stages keep nice 10 within it, below the controller). Put back at exit.
raise_session() {
  local group="/proc/$$/autogroup" nice
  [ -r "$group" ] || return 0
  nice="$(sed -n 's/.* nice \(-\{0,1\}[0-9]*\)$/\1/p' "$group")"
  [ -n "$nice" ] && echo -10 2>/dev/null > "$group" && session_nice="$nice"
  return 0
}

kill_tree() {  # kill_tree PID: the process and all its descendants
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}

cleanup() {
  [ -z "$static_pid" ] || kill_tree "$static_pid"
  [ -z "$session_nice" ] || echo "$session_nice" 2>/dev/null > "/proc/$$/autogroup" || true
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
  local t0=$SECONDS rc=0
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "=== $name: passed ($((SECONDS - t0)) s)"
  else
    echo "=== $name: FAILED ($((SECONDS - t0)) s)"
  fi
  printf '%s\t%s\t%s\n' "$rc" "$((SECONDS - t0))" "$name" >> "$RESULTS"
}

units() {
  pytest -q -p no:cacheprovider tests/unit tests/lab/test_lab.py
}

# The oldest ansible-core meta/runtime.yml claims (tests/requirements-oldest.txt).
units_oldest() {
  "$ROOT/.venv-oldest/bin/python" -m pytest -q -p no:cacheprovider tests/unit
}

# ansible-lint installs a copy of the collection under $HOME/.ansible, which molecule
# would then prefer to this checkout: give it a throwaway HOME.
lint() {
  yamllint -s . && antsibull-changelog lint &&
    HOME="$WORK/lint-home" ansible-lint --profile production
}

# ansible-test wants the collection at ansible_collections/<ns>/<name>: sanity runs on a
# copy of the tracked files (what would be committed), with its own pinned test venvs.
# sanity [VENV]: with the ansible-test of VENV (default .venv).
sanity() {
  local venv="${1:-.venv}"
  local tree="$WORK/sanity-${venv#.}/ansible_collections/nsguard/docker"
  mkdir -p "$tree"
  git ls-files -z --cached --others --exclude-standard | rsync -a --files-from=- --from0 ./ "$tree/"
  (cd "$tree" && "$ROOT/$venv/bin/ansible-test" sanity --venv --python 3.11 --color no)
}

sanity_oldest() {
  sanity .venv-oldest
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
  # No `lab.py build` first: each lane builds what its next scenario starts from, beside
  # the other lane's guest (cold, noble built here held every scenario back 12 min).
  python tests/lab/lab.py test "${names[@]}"
}

# name|function of each stage besides the VM lab; the summary counts them too.
STATIC_STAGES=(
  "unit tests|units"
  "yamllint, changelog lint, ansible-lint (production)|lint"
  "ansible-test sanity|sanity"
  "unit tests on the oldest ansible-core|units_oldest"
  "ansible-test sanity on the oldest ansible-core|sanity_oldest"
  "galaxy build and install|galaxy_install"
  "molecule syntax (vagrant scenario)|vagrant_syntax"
)
static_stages() {
  local entry
  for entry in "${STATIC_STAGES[@]}"; do stage "${entry%|*}" "${entry##*|}"; done
}

t_start=$SECONDS
[ "${NSGUARD_SKIP_VMS:-0}" = 1 ] || raise_session
if [ "${NSGUARD_ONLY_LAB:-0}" != 1 ]; then
  if [ "${NSGUARD_SKIP_VMS:-0}" = 1 ]; then
    static_stages
  else
    echo "=== units, linters, sanity, galaxy and syntax run beside the VM lab (nice 10); their output follows the lab's"
    ( renice -n 10 -p "$BASHPID" >/dev/null; static_stages ) > "$WORK/static.log" 2>&1 &
    static_pid=$!
  fi
fi
if [ "${NSGUARD_SKIP_VMS:-0}" != 1 ]; then
  stage "molecule scenarios in the VM lab" scenarios
fi
if [ -n "$static_pid" ]; then
  t_wait=$SECONDS
  wait "$static_pid" || true
  static_pid=""
  echo
  echo "=== the stages that ran beside the VM lab (waited $((SECONDS - t_wait)) s for them after it) ==="
  cat "$WORK/static.log"
fi

passed=0; failed=0; failures=()
echo
echo "=== summary (wall $((SECONDS - t_start)) s) ==="
while IFS=$'\t' read -r rc secs name; do
  printf '%6s s  %s%s\n' "$secs" "$name" "$([ "$rc" -eq 0 ] || echo '  FAILED')"
  if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); fi
done < "$RESULTS"
# A stage that died without a line (its shell killed) must not pass by its absence.
expected=0
[ "${NSGUARD_ONLY_LAB:-0}" = 1 ] || expected=$((expected + ${#STATIC_STAGES[@]}))
[ "${NSGUARD_SKIP_VMS:-0}" = 1 ] || expected=$((expected + 1))
if [ $((passed + failed)) -ne "$expected" ]; then
  echo "only $((passed + failed)) of $expected stages reported a result"; failed=$((failed + 1))
fi
[ "${#failures[@]}" -eq 0 ] || echo "failed: ${failures[*]}"
# Last, so that a CI log cut to its tail still says which task failed and why.
if [ -s "$OUT/lab-failures.txt" ]; then
  echo; echo "=== what failed in the VM lab (tests/output/lab-failures.txt) ==="; cat "$OUT/lab-failures.txt"
fi
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
