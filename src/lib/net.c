#include "config.h"
#include "net.h"

#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* lo starts down in a new network namespace: one SIOCSIFFLAGS brings it
 * up (no netlink library in the sandbox's init, which is a clone of a
 * small static program: spawner.h). */
int net_loopback_up(wr_error *e)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return wr_error_set(e, errno, "bring lo up: socket");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, "lo", 3);
	int r = 0;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		r = wr_error_set(e, errno, "bring lo up: SIOCGIFFLAGS");
	else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			r = wr_error_set(e, errno, "bring lo up: SIOCSIFFLAGS");
	}
	close(s);
	return r;
}
