/* epoll: an empty instance; each task adds the targets at its own fd numbers (tasks.c) */
#include <sys/epoll.h>

#include "kinds.h"

static int create_epoll(struct obj *o)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);  /* targets: added by the task, at its fd numbers */
	if (fd < 0)
		return obj_error(o);
	return obj_fd(o, fd);
}

const struct kind_ops epoll_ops = { .kind = OBJ_EPOLL, .create = create_epoll };
