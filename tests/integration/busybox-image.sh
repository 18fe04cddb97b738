#!/bin/sh
# Makes a local test image from the distribution's busybox-static: there is no registry
# to pull from in the lab. Usage: busybox-image.sh TAG  (uses `docker` as the caller is
# configured: DOCKER_HOST or the current context). Does nothing if TAG exists. A lab VM
# restored from a layer already holds the root filesystem (/srv/busybox-rootfs.tar, made
# by tests/lab/standin_repo.py from the same package); elsewhere it is downloaded.
set -eu
tag="${1:?usage: busybox-image.sh TAG}"
docker image inspect "$tag" >/dev/null 2>&1 && exit 0
if [ -r /srv/busybox-rootfs.tar ]; then
  docker import /srv/busybox-rootfs.tar "$tag" >/dev/null
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
chmod 0777 "$work"  # apt's _apt sandbox user downloads into it
apt-get download -q busybox-static >/dev/null
dpkg-deb -x busybox-static_*.deb x
bb="$(find x -type f -name busybox | head -n1)"
mkdir -p r/bin r/tmp r/data
cp "$bb" r/bin/busybox
for applet in sh touch sleep id cat ls stat wget; do ln -s busybox "r/bin/$applet"; done
tar -C r -c . | docker import - "$tag" >/dev/null
