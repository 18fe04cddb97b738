#!/usr/bin/env bash
# Sets up a fresh Debian 12 (or Ubuntu) machine for developing and testing nsguard.docker:
# the apt packages the VM lab needs, a Python venv (.venv) with the pinned tools, and
# .venv-oldest with the oldest ansible-core the collection claims (units and sanity).
# Idempotent: re-running it only fills in what is missing.
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1

APT_PACKAGES=(
  python3 python3-venv python3-pip git rsync openssh-client shellcheck
  qemu-system-x86 qemu-utils debootstrap gpg gpgv e2fsprogs  # the VM lab
  apt-utils dpkg-dev                                         # stand-in apt repository
  vagrant                                                    # `molecule syntax` of the Vagrant scenario
  chromium                                                   # screenshots of the audit report
)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY="${PYTHON:-python3}"
# .venv: the pinned tools with the newest ansible-core; .venv-oldest: the oldest
# ansible-core meta/runtime.yml claims, for the units and sanity.
for venv in .venv:tests/requirements.txt .venv-oldest:tests/requirements-oldest.txt; do
  dir="${venv%%:*}" requirements="${venv#*:}"
  if [ ! -x "$dir/bin/python" ] || ! cmp -s "$requirements" "$dir/.requirements"; then
    "$PY" -m venv "$dir"
    "$dir/bin/pip" install -q --upgrade pip
    "$dir/bin/pip" install -q -r "$requirements"
    cp "$requirements" "$dir/.requirements"
  fi

  # ansible-test's --venv bootstrap fetches get-pip.py from a host CI cannot reach: place
  # our stand-in (tests/sanity/get_pip.py) in its cache under the name each ansible-test
  # looks for.
  pip_version="$("$dir/bin/python" -c 'import types; from ansible_test._internal.python_requirements import get_venv_packages as g; print(g(types.SimpleNamespace(version="3.11"))["pip"])')"
  mkdir -p "$HOME/.ansible/test/cache"
  cp tests/sanity/get_pip.py "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
done

# Molecule and ansible-playbook find this checkout as the collection nsguard.docker here.
mkdir -p .cache/collections/ansible_collections/nsguard
ln -sfn "$PWD" .cache/collections/ansible_collections/nsguard/docker
# The lab scenario that runs on the oldest ansible-core (molecule/userns_remap) puts this
# directory first in PATH: its ansible-playbook is .venv-oldest's, the rest stays .venv's.
mkdir -p .cache/ansible-oldest/bin
ln -sfn "$PWD/.venv-oldest/bin/ansible-playbook" .cache/ansible-oldest/bin/ansible-playbook
echo "setup: done (.venv: $(.venv/bin/ansible --version | sed -n 1p))"
