#!/bin/sh
# pid 1 of the test guest. Stage 1 runs from the initramfs (rootfs), where
# pivot_root fails with EINVAL: copy everything into a tmpfs and switch_root
# there. Stage 2 mounts the API filesystems and a cgroup v2 hierarchy, runs
# /tests.sh (then /tests-oci.sh when there is one), prints the VMTEST
# summary the host looks for, and powers off.
export PATH=/usr/bin
if [ "$1" != stage2 ]; then
	mkdir -p /newroot
	mount -t tmpfs -o mode=0755 tmpfs /newroot
	for entry in /*; do
		[ "$entry" = /newroot ] || cp -a "$entry" /newroot/
	done
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
# The guest's own bound: the host's timeout is the last resort.
timeout 200 sh -c 'sh /tests.sh; [ ! -e /tests-oci.sh ] || sh /tests-oci.sh' 2>&1 | tee /tmp/results
passed=$(grep -c '^ok ' /tmp/results)
failed=$(grep -c '^not ok ' /tmp/results)
echo "VMTEST: $passed passed, $failed failed"
sync
poweroff -f
