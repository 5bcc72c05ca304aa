/* pidfd: of a task of the tree, opened by the task that holds it once that task exists (tasks.c: o->fd stays
 * -1 here); of a process dead when dumped, opened on a temporary child, one per dead process (by the inode its
 * pidfds shared), which is killed and reaped once every object exists */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kinds.h"

static struct { uint64_t ino; pid_t pid; } *dead;
static int nr_dead;

static int create_pidfd(struct obj *o)
{
	if (o->pidfd.pid)
		return 0;
	int k;
	for (k = 0; k < nr_dead && dead[k].ino != o->pidfd.ino; k++)
		;
	if (k == nr_dead) {
		pid_t p = fork();
		if (p < 0)
			return obj_error(o);
		if (p == 0)
			for (;;)
				pause();
		dead = realloc(dead, (nr_dead + 1) * sizeof(*dead));
		dead[nr_dead].ino = o->pidfd.ino;
		dead[nr_dead++].pid = p;
	}
	int fd = (int)syscall(SYS_pidfd_open, dead[k].pid, o->flags & O_NONBLOCK);
	if (fd < 0)
		return obj_error(o);
	return obj_fd(o, fd);
}

static int finish_pidfds(void)
{
	for (int k = 0; k < nr_dead; k++) {
		kill(dead[k].pid, SIGKILL);
		while (waitpid(dead[k].pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(dead);
	dead = NULL;
	nr_dead = 0;
	return 0;
}

const struct kind_ops pidfd_ops = { .kind = OBJ_PIDFD, .create = create_pidfd, .finish = finish_pidfds };
