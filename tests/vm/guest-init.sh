#!/bin/sh
# pid 1 of the test guest. Stage 1 runs from the initramfs (rootfs), where
# pivot_root fails with EINVAL: copy everything into a tmpfs and switch_root
# there. Stage 2 mounts the API filesystems and a cgroup v2 hierarchy, runs
# /tests.sh (then /tests-oci.sh when there is one), each checked for being
# whole (guest-lib.sh), prints the VMTEST summary the host looks for, and
# powers off.
# A guest with systemd in it (run-systemd) switches root to systemd instead:
# it mounts all that itself, and starts warren-vm-tests.service, which runs
# this script's "systemd-tests" stage.
export PATH=/usr/bin
if [ "$1" = systemd-tests ]; then
	. /guest-lib.sh
	: >"$results"
	echo "# kernel $(uname -r), $(nproc) cpus, $(systemctl --version | head -n1) as pid 1"
	run_guest_script systemd /tests.sh 150
	guest_summary
	sync
	poweroff -f
fi
if [ "$1" != stage2 ]; then
	mkdir -p /newroot
	mount -t tmpfs -o mode=0755 tmpfs /newroot
	for entry in /*; do
		[ "$entry" = /newroot ] || cp -a "$entry" /newroot/
	done
	[ ! -x /usr/lib/systemd/systemd ] || exec switch_root /newroot /usr/lib/systemd/systemd
	exec switch_root /newroot /init stage2
	echo "VMTEST: switch_root failed"
	poweroff -f
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t cgroup2 none /sys/fs/cgroup
hostname warren-vm
ip link set lo up 2>/dev/null

echo "# kernel $(uname -r), $(nproc) cpus, cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
. /guest-lib.sh
: >"$results"
# The guest's own bounds (a script that hangs is a failure, and the next one
# still runs); the host's timeout (run-cgroup-v2) is the last resort.
run_guest_script cgroup-v2 /tests.sh 100
[ ! -e /tests-oci.sh ] || run_guest_script oci /tests-oci.sh 100
guest_summary
sync
poweroff -f
