"""Stand-in for pip's get-pip.py bootstrap script, for ``ansible-test sanity --venv``.

ansible-test downloads get-pip.py from its own CI file host to put pip into the empty
virtual environments it creates for each sanity test. That host is unreachable from our CI
machines (only the package registries are), so tests/setup.sh places this file in
ansible-test's cache under the name it looks for. It does the same job with what is there:
the interpreter's own ensurepip, then pip installs the requested packages from the
configured package index, honouring ansible-test's pinned versions.
"""
import subprocess
import sys

# get-pip.py takes pip's install arguments plus these two switches of its own.
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)
sys.exit(0)
