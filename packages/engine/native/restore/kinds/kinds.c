/* The kinds of object and the controller's walk over them: every kind's prepare, every object's create (in
 * the plan's order), every kind's finish */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kinds.h"

/* One line per kind. The kind-wide steps run in this order: before the objects, the memfds and shared
 * anonymous memory (tasks map them too), the pipes with their data, the FIFO keepers; after them, the
 * keepers close, socket queues are refilled and sockets shut down, inet sockets get their SO_REUSEADDR and
 * SO_REUSEPORT back, ghost files lose their names, and the caller's inherited fds are closed. */
static const struct kind_ops *const kinds[] = {
	&memfd_ops, &pipe_ops, &fifo_ops, &unix_ops, &inet_ops, &netlink_ops, &packet_ops, &reg_ops, &inherit_ops,
	&eventfd_ops, &timerfd_ops, &signalfd_ops, &epoll_ops, &inotify_ops, &fanotify_ops, &caller_tty_ops, &pty_master_ops, &pty_slave_ops, &ctty_ops, &pidfd_ops,
	NULL
};

static const struct kind_ops *ops_of(int kind)
{
	for (const struct kind_ops *const *k = kinds; *k; k++)
		if ((*k)->kind == kind)
			return *k;
	return NULL;
}

int sys_error(void)
{
	fprintf(stderr, "Error: cannot create shared objects: %s\n", strerror(errno));
	return -1;
}

int obj_fd(struct obj *o, int fd)
{
	o->fd = move_high(fd);
	if (o->fd < 0)
		return sys_error();
	return 0;
}

int obj_error(struct obj *o)
{
	fprintf(stderr, "Error: %s: %s\n", o->label, strerror(errno));
	return -1;
}

int create_objects(void)
{
	for (const struct kind_ops *const *k = kinds; *k; k++)
		if ((*k)->prepare && (*k)->prepare() < 0)
			return -1;
	for (uint64_t i = 0; i < nr_objs; i++) {
		const struct kind_ops *ops = ops_of(objs[i].kind);
		if (!ops) {
			fprintf(stderr, "Error: %s: kind %lu has no restore code\n", objs[i].label, (unsigned long)objs[i].kind);
			return -1;
		}
		if (ops->create(&objs[i]) < 0)
			return -1;
	}
	for (const struct kind_ops *const *k = kinds; *k; k++)
		if ((*k)->finish && (*k)->finish() < 0)
			return -1;
	return 0;
}
