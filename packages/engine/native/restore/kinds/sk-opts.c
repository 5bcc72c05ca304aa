/* The options of a netlink or packet socket (obj's skOpts), set in order once it is bound and connected; a
 * classic BPF filter is handed over as a sock_fprog */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "kinds.h"

int set_sk_opts(struct obj *o, int fd)
{
	for (uint64_t i = 0; i < o->nr_sk_opts; i++) {
		struct skopt *so = &o->sk_opts[i];
		int r;
		if (so->level == SOL_SOCKET && so->name == SO_ATTACH_FILTER) {
			struct sock_fprog prog = { .len = (unsigned short)(so->val.len / sizeof(struct sock_filter)),
						   .filter = (struct sock_filter *)so->val.p };
			r = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
		} else
			r = setsockopt(fd, (int)so->level, (int)so->name, so->val.p, (socklen_t)so->val.len);
		if (r < 0) {
			fprintf(stderr, "Error: %s: setsockopt %s: %s\n", o->label, so->what, strerror(errno));
			return -1;
		}
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
