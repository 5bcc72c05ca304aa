/* Two tasks, a parent and its child, each printing its cgroup v2 path ("0::" line of /proc/self/cgroup)
 * every 200 ms: "tick N pid=P cg=PATH". The test moves them into cgroups of its own before the dump. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-view.h"

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid_t child = fork();
	if (child < 0)
		return 1;
	if (child > 0)
		printf("READY pid=%d child=%d\n", getpid(), child);
	for (int i = 0;; i++) {
		char path[4096];
		cgroup_view(path, sizeof(path));
		printf("tick %d pid=%d cg=%s\n", i, getpid(), path);
		usleep(200000);
	}
}
