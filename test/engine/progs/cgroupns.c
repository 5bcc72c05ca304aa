/* A task in a cgroup namespace of its own, and its child: the task joins NSDIR (a cgroup v2 directory, the
 * namespace's root), unshares CLONE_NEWCGROUP there and moves into NSDIR/INNER, then forks. Each prints,
 * every 200 ms, "tick N pid=P cg=PATH ns=INO": PATH its own view of its cgroup v2 path (the "0::" line of
 * /proc/self/cgroup, "/INNER" inside the namespace), INO its cgroup namespace's inode. "nested": the child
 * unshares a namespace of its own too.
 * Usage: cgroupns NSDIR INNER [nested] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-view.h"

static unsigned long ns_ino(void)
{
	struct stat st;
	return stat("/proc/self/ns/cgroup", &st) ? 0 : (unsigned long)st.st_ino;
}

static int join(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY);
	int ok = fd >= 0 && write(fd, "0", 1) == 1;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	char inner[4096], now[4096];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		return 2;
	snprintf(inner, sizeof(inner), "%s/%s", argv[1], argv[2]);
	if (join(argv[1]) || unshare(CLONE_NEWCGROUP) || join(inner)) {
		perror("cgroupns setup");
		return 1;
	}
	pid_t child = fork();
	if (child < 0)
		return 1;
	if (child == 0 && argc > 3 && !strcmp(argv[3], "nested") && unshare(CLONE_NEWCGROUP))
		return 1;
	if (child > 0)
		printf("READY pid=%d child=%d\n", getpid(), child);
	for (int i = 0;; i++) {
		cgroup_view(now, sizeof(now));
		printf("tick %d pid=%d cg=%s ns=%lu\n", i, getpid(), now, ns_ino());
		usleep(200000);
	}
}
