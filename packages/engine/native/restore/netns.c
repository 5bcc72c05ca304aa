/* The root task's network namespace (criu's prepare_net_namespaces / --join-ns net:): ckpt made and filled it
 * (src/netns.ts) or the caller named one; the task enters it before it forks its children and restores its
 * sockets, so that all of them are in it. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

void join_netns(uint64_t ti)
{
	const char *path = tasks[ti].netns;
	if (!path || !*path)
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		task_fail(ti, "task %lu: cannot enter its network namespace %s: %s", (unsigned long)tasks[ti].pid, path,
			  strerror(errno));
	close(fd);
}
