/* task-loginuid: the audit login uid of each process (zdtm loginuid): the main process sets 4242, its child
 * 4343 (only a process can set its own). Every tick each checks its own /proc/self/loginuid; the child sends
 * its verdict through a pipe: "tick N ok" or "tick N BAD why". */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int set_uid(unsigned v)
{
	char b[16];
	int fd = open("/proc/self/loginuid", O_RDWR), len = snprintf(b, sizeof(b), "%u", v);
	int ok = fd >= 0 && write(fd, b, len) == len;
	if (fd >= 0)
		close(fd);
	return ok;
}

static unsigned get_uid(void)
{
	char b[16] = "";
	int fd = open("/proc/self/loginuid", O_RDONLY);
	if (fd < 0 || read(fd, b, sizeof(b) - 1) <= 0)
		return 0;
	close(fd);
	return (unsigned)strtoul(b, NULL, 10);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int fds[2];
	if (pipe(fds) || !set_uid(4242)) {
		printf("BAD setup: cannot set the login uid\n");
		return 1;
	}
	if (fork() == 0) {
		close(fds[0]);
		if (!set_uid(4343))
			return 1;
		for (;;) {
			unsigned u = get_uid();
			if (write(fds[1], &u, sizeof(u)) != sizeof(u))
				return 1;
			usleep(200000);
		}
	}
	close(fds[1]);
	printf("READY pid=%d\n", getpid());
	for (int n = 0;; n++) {
		unsigned child;
		if (read(fds[0], &child, sizeof(child)) != sizeof(child))
			return 1;
		unsigned mine = get_uid();
		if (mine != 4242 || child != 4343)
			printf("tick %d BAD login uids %u and %u, want 4242 and 4343\n", n, mine, child);
		else
			printf("tick %d ok\n", n);
	}
}
