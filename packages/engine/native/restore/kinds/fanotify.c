/* fanotify: a group made with its dumped fanotify_init flags, then its marks added again by path */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>

#include "kinds.h"

#define MARK_MOUNT 2

static int mark(struct obj *o, const struct fanmark *m, unsigned int flags, uint64_t mask)
{
	if (fanotify_mark(o->fd, FAN_MARK_ADD | flags | (m->type == MARK_MOUNT ? FAN_MARK_MOUNT : 0), mask, AT_FDCWD, m->path) == 0)
		return 0;
	fprintf(stderr, "Error: %s: %s mark on %s (mask 0x%lx): %s\n", o->label, m->type == MARK_MOUNT ? "mount" : "inode", m->path,
		(unsigned long)mask, strerror(errno));
	return -1;
}

static int create_fanotify(struct obj *o)
{
	/* the dumped flags as they are (fdinfo shows them again, FAN_NONBLOCK and FAN_CLOEXEC too); the fd's own
	 * O_NONBLOCK as it was, which fcntl may have changed since */
	int fd = fanotify_init((unsigned int)o->fanotify.faflags, (unsigned int)o->fanotify.evflags);
	if (fd < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fcntl(fd, F_SETFL, (int)(o->flags & O_NONBLOCK)) < 0)
		return obj_error(o);
	if (obj_fd(o, fd) < 0)
		return -1;
	/* fdinfo lists the group's marks newest first (each new one goes to the head): added back last to
	 * first, they come out in the dumped order */
	for (uint64_t k = o->nr_fan_marks; k-- > 0;) {
		const struct fanmark *m = &o->fan_marks[k];
		unsigned int keep = (unsigned int)m->mflags & FAN_MARK_EVICTABLE;
		if (m->mask && mark(o, m, keep, m->mask) < 0)
			return -1;
		/* the ignore mask: FAN_MARK_IGNORE when the mark has its flags, else the older FAN_MARK_IGNORED_MASK */
		unsigned int ign = (m->mflags & FAN_MARK_IGNORE ? FAN_MARK_IGNORE : FAN_MARK_IGNORED_MASK) |
				   ((unsigned int)m->mflags & FAN_MARK_IGNORED_SURV_MODIFY);
		if (m->ignored_mask && mark(o, m, keep | ign, m->ignored_mask) < 0)
			return -1;
	}
	return 0;
}

const struct kind_ops fanotify_ops = { .kind = OBJ_FANOTIFY, .create = create_fanotify };
