#!/bin/sh
# The security battery's control run, as root inside the throwaway test
# guest (run-cgroup-v2 with WARREN_VM_TESTS; tests/security/test_control.py
# boots it with the attacker, tests/security/attack.c, in WARREN_VM_FILES).
#
# Every attempt runs OUTSIDE any sandbox here, with the arguments the
# battery gives it or ones of the same kind this guest has, and each try in
# it must succeed ("works:"): a try that fails anyway has broken arguments
# and its sandbox run proves nothing. Loading modules, kexec, reboot(CAD_OFF)
# and sysrq are harmless in this guest; that is why they run here and never
# on a host. Each attempt runs in a mount namespace of its own so that its
# mounts and pivot_root leave the guest as it was for the next.
#
# Output: every line of attempt NAME prefixed "[NAME] ", then "ok control_NAME"
# or "not ok control_NAME: why"; the last line is the completion marker.
export PATH=/usr/bin
attack=/opt/attack

setup() {
	mkdir -p /opt /workspace /home /var/tmp/warren-sec-canary
	# Outside /usr: the mount attempt unmounts a bind mount of /usr.
	cp /usr/bin/attack $attack
	# Files of the image's kind that no process of this guest is running
	# (a running binary is ETXTBSY to anyone; every program here is busybox).
	rm -f /usr/bin/env
	cp /usr/bin/busybox /usr/bin/env
	cp /usr/bin/busybox /opt/sleeper
	: >/etc/ld.so.cache
	echo "warren-canary-control" >/var/tmp/warren-sec-canary/canary
	echo "the secret" >/workspace/warren-sec-secret
	# A second interface with an address, a default route, the listeners
	# `connect` must reach, and ping sockets allowed.
	insmod "$(find /lib/modules -name dummy.ko)" || echo "# insmod dummy.ko failed"
	ip link set dummy0 up
	ip addr add 198.18.0.1/24 dev dummy0
	ip route add default dev dummy0
	sysctl -w net.ipv4.ping_group_range="0 2147483647" >/dev/null
	# (Background processes write nowhere near our stdout: whoever reads it
	# waits for its last writer.)
	$attack listen 127.0.0.1:7001 198.18.0.1:7002 unix:/tmp/warren-sec.sock abstract:warren-sec \
		</dev/null >/tmp/listen.out 2>&1 &
	background=$!
	# A marker process (host_procs) and more than 50 processes.
	sleep 4242.5 </dev/null >/dev/null 2>&1 &
	marker=$!
	background="$background $marker"
	i=0
	while [ $i -lt 50 ]; do
		sleep 4343.5 </dev/null >/dev/null 2>&1 &
		background="$background $!"
		i=$((i + 1))
	done
	i=0
	while ! grep -q '^listening' /tmp/listen.out && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# attempt_in UNSHARE PREP NAME [ARG...]: `attack --control NAME ARG...` in a
# mount namespace of its own (and the namespaces UNSHARE adds), started by a
# shell that runs PREP first and stays (pid 1 in a new pid namespace). Its
# lines are printed prefixed; its output stays in /tmp/ctl.out, its exit
# status in $status.
attempt_in() {
	more=$1 prep=$2 name=$3
	shift 3
	unshare -m --propagation private $more sh -c "$prep; \"\$0\" --control \"\$@\"; exit \$?" $attack "$name" "$@" \
		</dev/null >/tmp/ctl.out 2>&1
	status=$?
	sed "s/^/[$name] /" /tmp/ctl.out
}

# control_in: the same, and every try in it must work.
control_in() {
	attempt_in "$@"
	if [ $status = 0 ] && grep -q '^RESULT: CONTROL OK' /tmp/ctl.out; then
		echo "ok control_$3"
	else
		echo "not ok control_$3: exit $status, $(grep -c '^BROKEN' /tmp/ctl.out) broken"
	fi
}

control() {
	control_in "" : "$@"
}

started=$(date +%s)
setup

# The sandbox's shape for the mount attempt: /usr a read-only bind mount,
# /proc/kcore masked by /dev/null, as warren mounts them.
control_in "" 'mount --bind /usr /usr && mount -o remount,bind,ro /usr && mount --bind /dev/null /proc/kcore' mount
control setuid0
control caps
control uid_map
control unshare
control clone_ns
control setns
# In a pid namespace of their own too, as in a sandbox: pid 1 (the shell
# that started the attacker) shares its mount namespace (binding a mount of
# another namespace is EINVAL for anyone), and ptrace attaches to that pid 1,
# not to the guest's init. (The process named on the command line in the
# battery is of the same kind as the attacker's own child, tried here.)
control_in "-p -f --mount-proc" : bind_mount
control_in "-p -f --mount-proc" : ptrace
control proc_mem
control kmod "$(find /lib/modules -name loop.ko)" loop
control kexec
control bpf
control perf
control keyctl
control userfaultfd
control io_uring
control personality
control int80
control tiocsti
control pty
control reboot
control write_image /etc/passwd /etc/ld.so.cache /usr/bin/env /lib64/ld-linux-x86-64.so.2
control mknod
control host_root /var/tmp/warren-sec-canary/canary
control fds 5</dev/null
control exe_overwrite /opt/sleeper
control hardlink /workspace /var/tmp/warren-sec-canary/canary
control suid_plant /workspace
control find_secret warren-sec-secret "the secret" /var/tmp
control ifaces
control connect 127.0.0.1:7001 198.18.0.1:7002 unix:/tmp/warren-sec.sock abstract:warren-sec
control raw
control host_procs "5.2424 peels"
control kernel_info
control_in "" 'ulimit -n 2048' fdbomb 1024
control rlimits 0 1024 1073741824
# Through su, whose initgroups gives root a supplementary group to find.
control_in "" "exec su -s /bin/sh root -c 'exec $attack --control identity 1000 1000'" identity
control hostname warren-vm
# Nothing is masked here: every path the kernel has must read.
control proc_leaks
control hidden /etc /etc/passwd

# The battery's self-test: a deliberately broken try must be flagged.
attempt_in "" : selftest
if [ $status = 44 ] && grep -q '^BROKEN: mount_setattr(/usr, NULL, 0)' /tmp/ctl.out; then
	echo "ok control_flags_a_broken_try"
else
	echo "not ok control_flags_a_broken_try: exit $status"
fi

kill $background
echo "# the control run took $(($(date +%s) - started)) s"
# Keep in step with the calls above (one ok/not ok line each).
echo "# completed: 42 checks"
