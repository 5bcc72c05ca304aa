/* ghost-big: a deleted-but-open sparse file of 36 KiB (data at [0,4096) and [32768,36864), a hole between),
 * big enough for CRIU's chunked ghost image (>= 12 KiB). argv[1] = working directory. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || chdir(argv[1]))
		return 1;
	char buf[4096];
	int fd = open("big-ghost.bin", O_RDWR | O_CREAT | O_TRUNC, 0600);
	memset(buf, 'A', sizeof(buf));
	if (pwrite(fd, buf, sizeof(buf), 0) != sizeof(buf))
		return 2;
	memset(buf, 'Z', sizeof(buf));
	if (pwrite(fd, buf, sizeof(buf), 32768) != sizeof(buf))
		return 2;
	lseek(fd, 777, SEEK_SET);
	unlink("big-ghost.bin");
	printf("READY pid=%d fd=%d\n", getpid(), fd);
	for (unsigned long n = 1;; n++) {
		char a = 0, z = 0, h = 1;
		pread(fd, &a, 1, 0);
		pread(fd, &h, 1, 20000);
		pread(fd, &z, 1, 36863);
		printf("tick %lu pos=%ld data=%c%c hole=%d\n", n, (long)lseek(fd, 0, SEEK_CUR), a, z, h);
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
