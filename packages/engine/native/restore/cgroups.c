/* A task joins its dumped cgroups (plan: the cgroup.procs files of ckpt's mounts of each hierarchy, one a
 * line) before it forks its children, so that they start there too: writing "0" moves the writer. A root
 * task that had its own cgroup namespace first joins that namespace's root cgroups and unshares one there
 * (criu's prepare_cgns: unshare roots the namespace where the task is); its children inherit it. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

static void join_each(uint64_t ti, const char *p)
{
	while (p && *p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char path[4096];
		if (n >= sizeof(path))
			task_fail(ti, "task %lu: cgroup path too long", (unsigned long)tasks[ti].pid);
		memcpy(path, p, n);
		path[n] = 0;
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			task_fail(ti, "task %lu: cannot join cgroup %s: %s", (unsigned long)tasks[ti].pid,
				  strstr(path, "/fd/") ? strchr(strstr(path, "/fd/") + 4, '/') : path, strerror(errno));
		close(fd);
		p = e ? e + 1 : NULL;
	}
}

void join_cgroups(uint64_t ti)
{
	const char *ns = tasks[ti].cgns;
	if (ns && *ns) {
		join_each(ti, ns);
		if (unshare(CLONE_NEWCGROUP) < 0)
			task_fail(ti, "task %lu: cannot create its cgroup namespace: %s", (unsigned long)tasks[ti].pid,
				  strerror(errno));
	}
	/* the paths stay the ones of ckpt's mounts, made before the unshare: it changes no mount's view */
	join_each(ti, tasks[ti].cgroup);
}
