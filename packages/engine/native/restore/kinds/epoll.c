/* epoll: an empty instance; each task adds the targets at its own fd numbers (tasks.c), except for an epoll in
 * flight (in no task's fds), whose targets the helper adds under their dumped fd numbers */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "kinds.h"

static int create_epoll(struct obj *o)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);  /* targets: added by the task, at its fd numbers */
	if (fd < 0)
		return obj_error(o);
	return obj_fd(o, fd);
}

/* target t of epoll o, added with the target's file at fd t->tfd of ours for the call (an epoll item is the file and
 * the fd number it was added with; it stays when that fd closes), whatever we have there put back after */
static int add_target(struct obj *o, const struct eptarget *t)
{
	struct obj *f = &objs[t->obj];
	int tfd = (int)t->tfd, fl = fcntl(tfd, F_GETFD), saved = -1, r;
	struct epoll_event ev = { .events = (uint32_t)t->events, .data.u64 = t->data };
	if (f->fd < 0 || tfd >= fd_base || (fl >= 0 && (saved = fcntl(tfd, F_DUPFD_CLOEXEC, fd_base)) < 0) || dup2(f->fd, tfd) < 0) {
		fprintf(stderr, "Error: %s: target fd %d (%s): %s\n", o->label, tfd, f->label,
			f->fd < 0 ? "it was not created" : tfd >= fd_base ? "fd number too high" : strerror(errno));
		if (saved >= 0)
			close(saved);
		return -1;
	}
	r = epoll_ctl(o->fd, EPOLL_CTL_ADD, tfd, &ev);
	int e = errno;
	if (saved >= 0) {
		dup2(saved, tfd);
		fcntl(tfd, F_SETFD, fl);
		close(saved);
	} else
		close(tfd);
	if (r < 0 && e != EEXIST) {
		fprintf(stderr, "Error: %s: adding target fd %d (%s): %s\n", o->label, tfd, f->label, strerror(e));
		return -1;
	}
	return 0;
}

static int finish_epoll(void)
{
	for (uint64_t i = 0; i < nr_objs; i++)
		for (uint64_t k = 0; objs[i].kind == OBJ_EPOLL && k < objs[i].nr_ep_targets; k++)
			if (add_target(&objs[i], &objs[i].ep_targets[k]) < 0)
				return -1;
	return 0;
}

const struct kind_ops epoll_ops = { .kind = OBJ_EPOLL, .create = create_epoll, .finish = finish_epoll };
