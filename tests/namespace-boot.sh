#!/bin/bash
# PID 1 of fresh PID, mount, UTS, IPC and cgroup namespaces (see tests/booted.py): hide
# everything a booting systemd may write behind tmpfs or an overlay on tmpfs, then exec
# systemd with a target that pulls in nothing from sysinit.target. The host's /tmp,
# /var, /etc, /dev and kernel log are never written: mounts made here are private to the
# namespace (propagation private) and vanish with its last process.
#
# Usage (by tests/booted.py only): namespace-boot.sh STAGE CONSOLE_PTY
set -euo pipefail
stage=$1 console=$2

mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/ns/stage /run/ns/etc/upper /run/ns/etc/work /run/ns/var/upper /run/ns/var/work
mount --bind "$stage" /run/ns/stage  # before /tmp is covered: the stage may live there
# the units, live: the test adds drop-ins from outside
mkdir -p /run/systemd/system
mount --bind /run/ns/stage/units /run/systemd/system

mount -t tmpfs -o mode=1777 tmpfs /tmp
# /var and /etc: reads see the host's files, writes land in tmpfs (StateDirectory's
# /var/lib/NAME symlink, ConfigurationDirectory=, machine-id, journal files, ...)
mount -t overlay overlay \
    -o lowerdir=/var,upperdir=/run/ns/var/upper,workdir=/run/ns/var/work /var
mount -t overlay overlay \
    -o lowerdir=/etc,upperdir=/run/ns/etc/upper,workdir=/run/ns/etc/work /etc
for dir in /var/tmp /var/lib/private /var/lib/systemd /var/log/journal; do
    mkdir -p "$dir"
done
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mount -t tmpfs -o mode=0700 tmpfs /var/lib/private
mount -t tmpfs -o mode=0755 tmpfs /var/lib/systemd
mount -t tmpfs -o mode=2755 tmpfs /var/log/journal
mkdir -p /etc/introd
mount --bind /run/ns/stage/etc /etc/introd
# journald: in memory only, no kernel log
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToWall=no\n' \
    > /etc/systemd/journald.conf.d/introd-test.conf

# the cgroup namespace's root is the test's own cgroup: a pure cgroup2 tree for systemd
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
# no kernel log, no kernel modules, no host console
mount --bind /dev/null /dev/kmsg
if [[ -d /lib/modules ]]; then mount -t tmpfs -o mode=0755 tmpfs /lib/modules; fi
mount --bind "$console" /dev/console
# Mounts systemd makes in helper processes (credentials) must reach its own view. The
# mounts here were made private to this namespace by unshare, so sharing them now makes
# peer groups of this namespace only: nothing propagates to the host.
mount --make-rshared /

exec env -i container=other PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    /lib/systemd/systemd --system --unit=test.target --log-target=console \
    --log-level=info </dev/null >/dev/console 2>&1
