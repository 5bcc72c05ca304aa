/* an fd handed over by the caller (--inherit-fd): taken as the object, the caller's fds closed once all exist */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kinds.h"

static int create_inherit(struct obj *o)
{
	int fd = fcntl((int)o->inherit_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "Error: %s: the caller's fd %lu: %s\n", o->label, (unsigned long)o->inherit_fd, strerror(errno));
		return -1;
	}
	return obj_fd(o, fd);
}

/* the caller's inherited fds live on only as objects: dups of them, or files reopened through them (external
 * files, /proc/self/fd/N) */
static int close_inherited(void)
{
	for (uint64_t i = 0; i < nr_inherit_fds; i++)
		close((int)inherit_fds[i]);
	return 0;
}

const struct kind_ops inherit_ops = { .kind = OBJ_INHERIT, .create = create_inherit, .finish = close_inherited };
