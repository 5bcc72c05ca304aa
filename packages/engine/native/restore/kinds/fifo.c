/* FIFOs: opened while one O_RDWR keeper per path holds them open (so no open blocks or fails with ENXIO),
 * refilled with their unread data through the keeper */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kinds.h"

struct fifo_keeper { const char *path; int fd; };

static int open_fifo_keepers(struct fifo_keeper *keep, int *nkeep)
{
	for (uint64_t i = 0; i < nr_objs; i++) {
		struct obj *o = &objs[i];
		if (o->kind != OBJ_FIFO)
			continue;
		int k;
		for (k = 0; k < *nkeep && strcmp(keep[k].path, o->path); k++)
			;
		if (k == *nkeep) {
			int kfd = open(o->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
			if (kfd < 0) {
				fprintf(stderr, "Error: %s: cannot open FIFO %s: %s\n", o->label, o->path, strerror(errno));
				return -1;
			}
			keep[*nkeep].path = o->path;
			keep[(*nkeep)++].fd = move_high(kfd);
		}
		if (o->fifo_size)
			fcntl(keep[k].fd, F_SETPIPE_SZ, (int)o->fifo_size);
		for (size_t off = 0; off < o->fifo_data.len;) {
			ssize_t n = write(keep[k].fd, o->fifo_data.p + off, o->fifo_data.len - off);
			if (n <= 0) {
				fprintf(stderr, "Error: %s: cannot refill FIFO %s with %zu bytes: %s\n", o->label, o->path, o->fifo_data.len, strerror(errno));
				return -1;
			}
			off += n;
		}
	}
	return 0;
}

static struct fifo_keeper *keepers;
static int nkeepers;

static int open_keepers(void)
{
	nkeepers = 0;
	keepers = calloc(nr_objs + 1, sizeof(*keepers));
	return open_fifo_keepers(keepers, &nkeepers);
}

static int create_fifo(struct obj *o)
{
	int fd = open_obj_path(o, O_NONBLOCK);
	if (fd < 0)
		return -1;
	return obj_fd(o, fd);
}

static int close_keepers(void)
{
	for (int k = 0; k < nkeepers; k++)
		close(keepers[k].fd);
	free(keepers);
	return 0;
}

const struct kind_ops fifo_ops = { .kind = OBJ_FIFO, .prepare = open_keepers, .create = create_fifo, .finish = close_keepers };
