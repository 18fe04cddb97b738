"""What the lab scenarios' verifiers read of a hardened host, shared by those that put
tests/integration on sys.path (molecule/harden, molecule/resources/platform)."""


def range_start(host, path, owner):
    """The first id of ``owner``'s range in /etc/subuid or /etc/subgid (``path``)."""
    for line in host.file(path).content_string.splitlines():
        name, start, _count = line.split(":")
        if name == owner:
            return int(start)
    raise AssertionError("no range of %s in %s" % (owner, path))
