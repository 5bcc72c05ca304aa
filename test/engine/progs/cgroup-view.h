/* What the cgroup test programs share: a task's own view of its cgroup v2 path. */
#include <stdio.h>
#include <string.h>

/* the "0::" line of /proc/self/cgroup into out ("?" when there is none) */
static void cgroup_view(char *out, size_t n)
{
	char line[4096];
	FILE *f = fopen("/proc/self/cgroup", "r");
	snprintf(out, n, "?");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, n, "%s", line + 3);
		}
	if (f)
		fclose(f);
}
