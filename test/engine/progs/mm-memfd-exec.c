/* mm-memfd-exec: a memfd holding "#!/bin/true", executed through its fd (execveat AT_EMPTY_PATH), as
 * memfd04/05 of ZDTM do; also mapped MAP_SHARED through that fd and MAP_PRIVATE through a read-only reopen
 * of it. Prints READY, then every 250 ms "tick N exec=E shared=S": E the exit status of a child that
 * executes the memfd ("0", or "err-N" with execveat's errno: ETXTBSY when something holds the memfd open for
 * writing through a file of its own), S the byte the shared mapping shows ('#'). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char script[] = "#!/bin/true";

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int fd = (int)syscall(SYS_memfd_create, "mm-memfd-exec", 0);
	if (fd < 0 || write(fd, script, sizeof(script) - 1) != sizeof(script) - 1) {
		perror("memfd");
		return 1;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int rofd = open(path, O_RDONLY);
	char *priv = rofd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, rofd, 0);
	volatile char *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (priv == MAP_FAILED || shared == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 0;; n++) {
		pid_t k = fork();
		if (k == 0) {
			char *const argv[] = { "true", NULL }, *const envp[] = { NULL };
			syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
			_exit(100 + errno);
		}
		int st = -1;
		waitpid(k, &st, 0);
		char e[16];
		if (WIFEXITED(st) && WEXITSTATUS(st) >= 100)
			snprintf(e, sizeof(e), "err-%d", WEXITSTATUS(st) - 100);
		else
			snprintf(e, sizeof(e), "%d", st);
		printf("tick %lu exec=%s shared=%c\n", n, e, shared[0]);
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
