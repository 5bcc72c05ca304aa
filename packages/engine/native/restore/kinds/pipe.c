/* pipes: made once with their unread data; each object is one end's open file description */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kinds.h"

/* pipes, refilled with their unread data (each end's first object takes the pipe's own fds) */
static int create_pipes(void)
{
	for (uint64_t i = 0; i < nr_pipes; i++) {
		struct pipe_ *p = &pipes[i];
		int fds[2];
		if (pipe2(fds, 0) < 0)
			return sys_error();
		if (p->size)
			fcntl(fds[1], F_SETPIPE_SZ, (int)p->size);
		size_t off = 0;
		while (off < p->data.len) {
			ssize_t n = write(fds[1], p->data.p + off, p->data.len - off);
			if (n <= 0) {
				fprintf(stderr, "Error: cannot refill pipe %lu with %zu bytes: %s\n", (unsigned long)i, p->data.len, strerror(errno));
				return -1;
			}
			off += n;
		}
		p->fds[0] = move_high(fds[0]);
		p->fds[1] = move_high(fds[1]);
	}
	return 0;
}

static int create_pipe_end(struct obj *o)
{
	uint64_t i = (uint64_t)(o - objs);  /* its objects before this one */
	int fd;
	struct pipe_ *p = &pipes[o->pipe_no];
	int end = o->end ? 1 : 0;
	if (p->fds[end] >= 0) {
		fd = p->fds[end];
		p->fds[end] = -1;  /* the first object of this end takes the pipe's own OFD */
	} else {
		/* a second open file description of the same end */
		char path[64];
		int any = -1;
		for (uint64_t k = 0; k < i; k++)
			if (objs[k].kind == OBJ_PIPE && objs[k].pipe_no == o->pipe_no)
				any = objs[k].fd;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", any);
		fd = open(path, end ? O_WRONLY : O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "Error: %s: cannot reopen pipe: %s\n", o->label, strerror(errno));
			return -1;
		}
	}
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, (fl & ~(O_NONBLOCK | O_ASYNC)) | (o->flags & (O_NONBLOCK | O_ASYNC)));
	return obj_fd(o, fd);
}

const struct kind_ops pipe_ops = { .kind = OBJ_PIPE, .prepare = create_pipes, .create = create_pipe_end };
