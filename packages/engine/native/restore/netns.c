/* The root task's network namespace (criu's prepare_net_namespaces / --join-ns net:): ckpt made and filled it
 * (src/netns.ts) or the caller named one. The controller enters it before it creates the shared objects (the
 * tree's sockets are made there) and clones the root, so that the whole tree is in it; the action scripts it
 * runs go back to the namespace it came from, as criu's. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

static int own_netns = -1;

int enter_tree_netns(void)
{
	const char *path = nr_tasks ? tasks[0].netns : NULL;
	if (!path || !*path)
		return 0;
	own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (own_netns < 0 || fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "Error: task %lu: cannot enter its network namespace %s: %s\n", (unsigned long)tasks[0].pid, path,
			strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

void leave_tree_netns(void)
{
	if (own_netns >= 0 && setns(own_netns, CLONE_NEWNET) < 0)
		fprintf(stderr, "Warn: cannot leave the tree's network namespace: %s\n", strerror(errno));
}
