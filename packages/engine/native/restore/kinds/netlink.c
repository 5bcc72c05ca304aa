/* netlink sockets: bound to the dumped port id with their groups (to a new port if it is taken meanwhile, as
 * CRIU: ports are mostly the kernel's choice, made from PIDs), connected as dumped, options set */
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kinds.h"

static int open_netlink(struct obj *o, int fd)
{
	struct sockaddr_nl addr;
	if (o->nl_portid) {
		memset(&addr, 0, sizeof(addr));
		addr.nl_family = AF_NETLINK;
		addr.nl_groups = (uint32_t)o->nl_groups;
		addr.nl_pid = (uint32_t)o->nl_portid;
		if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			int e = errno;
			addr.nl_pid = 0;
			if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
				fprintf(stderr, "Error: %s: bind to port %lu: %s\n", o->label, (unsigned long)o->nl_portid, strerror(e));
				return -1;
			}
			fprintf(stderr, "Warn: %s: port %lu is taken (%s): bound to a new port\n", o->label, (unsigned long)o->nl_portid, strerror(e));
		}
	}
	if (o->nl_connect) {
		memset(&addr, 0, sizeof(addr));
		addr.nl_family = AF_NETLINK;
		addr.nl_groups = o->nl_dst_group ? 1u << (o->nl_dst_group - 1) : 0;
		addr.nl_pid = (uint32_t)o->nl_dst_portid;
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			fprintf(stderr, "Error: %s: connect to port %lu group %lu: %s\n", o->label, (unsigned long)o->nl_dst_portid,
				(unsigned long)o->nl_dst_group, strerror(errno));
			return -1;
		}
	}
	if (set_sk_flags(o, fd) < 0)
		return -1;
	return set_sk_opts(o, fd);
}

static int create_netlink(struct obj *o)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, (int)o->nl_proto);
	if (fd < 0) {
		fprintf(stderr, "Error: %s: socket(AF_NETLINK, SOCK_RAW, %lu): %s\n", o->label, (unsigned long)o->nl_proto, strerror(errno));
		return -1;
	}
	if (open_netlink(o, fd) < 0) {
		close(fd);
		return -1;
	}
	return obj_fd(o, fd);
}

const struct kind_ops netlink_ops = { .kind = OBJ_NETLINK, .create = create_netlink };
