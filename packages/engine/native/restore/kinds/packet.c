/* packet sockets: bound to their device (SOCK_PACKET: by its name, and only when it had one), then version,
 * reserve, timestamp, copy threshold, flags, memberships, rings and fanout in CRIU's order (obj's skOpts). A ring
 * a task maps is mapped again from its fd (tasks.c) */
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kinds.h"

#ifndef SOCK_PACKET
#define SOCK_PACKET 10
#endif

static int bind_packet(struct obj *o, int fd)
{
	if (o->pk_type == SOCK_PACKET) {
		if (!o->pk_ifindex)
			return 0;
		struct ifreq req;
		memset(&req, 0, sizeof(req));
		req.ifr_ifindex = (int)o->pk_ifindex;
		if (ioctl(fd, SIOCGIFNAME, &req) < 0) {
			fprintf(stderr, "Error: %s: no network device of index %lu: %s\n", o->label, (unsigned long)o->pk_ifindex, strerror(errno));
			return -1;
		}
		struct sockaddr sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_family = AF_PACKET;
		memcpy(sa.sa_data, req.ifr_name, sizeof(sa.sa_data) - 1);
		if (bind(fd, &sa, sizeof(sa)) < 0) {
			fprintf(stderr, "Error: %s: bind to device %s: %s\n", o->label, req.ifr_name, strerror(errno));
			return -1;
		}
		return 0;
	}
	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)o->pk_ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "Error: %s: bind to device %lu: %s\n", o->label, (unsigned long)o->pk_ifindex, strerror(errno));
		return -1;
	}
	return 0;
}

static int create_packet(struct obj *o)
{
	int fd = socket(AF_PACKET, (int)o->pk_type | SOCK_CLOEXEC, (int)o->pk_proto);
	if (fd < 0) {
		fprintf(stderr, "Error: %s: socket(AF_PACKET, %lu, 0x%lx): %s\n", o->label, (unsigned long)o->pk_type,
			(unsigned long)o->pk_proto, strerror(errno));
		return -1;
	}
	if (bind_packet(o, fd) < 0 || set_sk_opts(o, fd) < 0 || set_sk_flags(o, fd) < 0) {
		close(fd);
		return -1;
	}
	return obj_fd(o, fd);
}

const struct kind_ops packet_ops = { .kind = OBJ_PACKET, .create = create_packet };
