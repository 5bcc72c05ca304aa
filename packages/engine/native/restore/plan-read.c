/* The plan file in, through the generated reader (plan_decode, build/restore/plan-wire.c); a plan it
 * refuses ends the helper with its one line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan.h"

void read_plan(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "Error: cannot open restore plan %s: %s\n", path, strerror(errno));
		exit(1);
	}
	/* kept for the helper's life: the plan's byte strings point into it */
	uint8_t *p = malloc(st.st_size ? (size_t)st.st_size : 1);
	size_t got = 0;
	while (p && got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, st.st_size - got);
		if (n <= 0) {
			fprintf(stderr, "Error: cannot read restore plan %s: %s\n", path, n < 0 ? strerror(errno) : "short read");
			exit(1);
		}
		got += n;
	}
	close(fd);
	char err[512];
	if (!p || plan_decode(p, got, err, sizeof(err)) < 0) {
		fprintf(stderr, "Error: %s\n", p ? err : "restore plan: out of memory");
		exit(1);
	}
}
