/* inherit-ext: fd 3 is the read end of a FIFO and fd 4 a read-only memfd, both the caller's (criu's inhfd fifo and
 * memfd tests). Every 100 ms "tick N fifo=F memfd=M": F what fd 3 gave since the last tick ("-": nothing), M the
 * memfd's contents. "inherit-ext hold NAME TEXT": a memfd NAME holding TEXT at fd 3, for the caller to open
 * through /proc; prints READY and waits. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "hold")) {
		int fd = memfd_create(argv[2], 0);
		if (fd != 3 || write(fd, argv[3], strlen(argv[3])) < 0)
			return 1;
		printf("READY\n");
		pause();
		return 0;
	}
	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 1;; n++) {
		char f[64] = "-", m[64] = "";
		ssize_t k = read(3, f, sizeof(f) - 1);
		f[k > 0 ? k : 1] = 0;
		k = pread(4, m, sizeof(m) - 1, 0);
		m[k > 0 ? k : 0] = 0;
		printf("tick %lu fifo=%s memfd=%s\n", n, f, m);
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
