"""The network driver the converge asked for (rootless_network_driver: slirp4netns) is the
one each user's rootlesskit runs with, after the reboot (the drop-in of the user's
docker.service is read by systemd, then by dockerd-rootless.sh). One ssh command."""
import shlex

USERS = ["vagrant", "alice"]
DROPIN = ".config/systemd/user/docker.service.d/nsguard-network.conf"

# For each user: the oldest process named rootlesskit (the parent dockerd-rootless.sh
# started; its child re-executes /proc/self/exe), its argv one per line, the drop-in's
# owner and mode, and an end marker.
SCRIPT = r"""
for u in %s; do
  pid=$(pgrep -o -x -u "$u" rootlesskit)
  echo "== $u pid=$pid"
  [ -n "$pid" ] && tr '\0' '\n' < /proc/$pid/cmdline
  echo "== $u dropin $(stat -c '%%U %%a' "$(getent passwd "$u" | cut -d: -f6)/%s" 2>&1)"
done
""" % (" ".join(USERS), DROPIN)


def parse(stdout):
    argv, dropin, user = {}, {}, None
    for line in stdout.splitlines():
        if line.startswith("== ") and " pid=" in line:
            user = line.split()[1]
            argv[user] = []
        elif line.startswith("== ") and " dropin " in line:
            dropin[line.split()[1]] = line.split(" dropin ", 1)[1]
        elif user is not None:
            argv[user].append(line)
    return argv, dropin


def test_rootlesskit_runs_with_slirp4netns(host):
    r = host.run("sh -c %s" % shlex.quote(SCRIPT))
    assert r.rc == 0, (r.stdout, r.stderr)
    argv, dropin = parse(r.stdout)
    for user in USERS:
        assert argv.get(user), ("no rootlesskit process of %s" % user, r.stdout)
        assert "--net=slirp4netns" in argv[user], (user, argv[user])
        assert dropin[user] == "%s 644" % user, (user, dropin[user])
