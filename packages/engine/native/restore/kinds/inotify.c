/* inotify: its watches, with the dumped watch descriptors */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/inotify.h>

#include "kinds.h"

static int create_inotify(struct obj *o)
{
	int fd = inotify_init1((o->flags & O_NONBLOCK ? IN_NONBLOCK : 0) | IN_CLOEXEC);
	if (fd < 0)
		return obj_error(o);
	for (uint64_t k = 0; k < o->nr_watches; k++) {
		struct watch *w = &o->watches[k];
		/* watch descriptors come in order: add and drop until the dumped number comes up */
		for (int tries = 0;; tries++) {
			int wd = inotify_add_watch(fd, w->path, (uint32_t)(w->mask & ~0x08000000ULL /* FS_EVENT_ON_CHILD */));
			if (wd < 0) {
				fprintf(stderr, "Error: %s: watch %s: %s\n", o->label, w->path, strerror(errno));
				return -1;
			}
			if ((uint64_t)wd == w->wd)
				break;
			if ((uint64_t)wd > w->wd || tries > 100000) {
				fprintf(stderr, "Error: %s: watch %s got descriptor %d, not the dumped %lu\n", o->label, w->path, wd, (unsigned long)w->wd);
				return -1;
			}
			inotify_rm_watch(fd, wd);
		}
	}
	return obj_fd(o, fd);
}

const struct kind_ops inotify_ops = { .kind = OBJ_INOTIFY, .create = create_inotify };
