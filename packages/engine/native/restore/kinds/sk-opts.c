/* Socket options: one (inet.c's steps use it too), and a netlink or packet socket's skOpts, set in order once it
 * is bound and connected */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "kinds.h"

/* one option; a classic BPF filter is handed over as a sock_fprog */
int set_sockopt(struct obj *o, int fd, uint64_t level, uint64_t name, const struct buf *val, const char *what)
{
	int r;
	if (level == SOL_SOCKET && name == SO_ATTACH_FILTER) {
		struct sock_fprog prog = { .len = (unsigned short)(val->len / sizeof(struct sock_filter)),
					   .filter = (struct sock_filter *)val->p };
		r = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
	} else
		r = setsockopt(fd, (int)level, (int)name, val->p, (socklen_t)val->len);
	if (r < 0) {
		fprintf(stderr, "Error: %s: setsockopt %s: %s\n", o->label, what, strerror(errno));
		return -1;
	}
	return 0;
}

int set_sk_opts(struct obj *o, int fd)
{
	for (uint64_t i = 0; i < o->nr_sk_opts; i++) {
		struct skopt *so = &o->sk_opts[i];
		if (set_sockopt(o, fd, so->level, so->name, &so->val, so->what) < 0)
			return -1;
	}
	return 0;
}

int set_sk_flags(struct obj *o, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, (fl & ~O_NONBLOCK) | (int)(o->flags & O_NONBLOCK)) < 0)
		return obj_error(o);
	return 0;
}
