"""Make this checkout importable as ``ansible_collections.nsguard.docker``.

Modules import their logic by its collection path, as they do on a target host, so the
units do too. A symlink farm in a temporary directory stands in for an installed
collection; nothing outside the checkout is touched.
"""
import os
import sys
import tempfile

_REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _collection_root():
    if os.path.basename(os.path.dirname(_REPO)) == "docker" or \
            _REPO.endswith(os.path.join("ansible_collections", "nsguard", "docker")):
        return os.path.dirname(os.path.dirname(os.path.dirname(_REPO)))
    farm = os.path.join(tempfile.gettempdir(), "nsguard-unit-%d" % os.getuid())
    link = os.path.join(farm, "ansible_collections", "nsguard", "docker")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.realpath(link) != _REPO:
        tmp = link + ".%d" % os.getpid()
        os.symlink(_REPO, tmp)
        os.replace(tmp, link)
    return farm


_ROOT = _collection_root()
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
# ansible-core's own package must win over the namespace path set up above.
import ansible_collections  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
