/* restore-ghost-map: a deleted file that is only mapped (no fd): MAP_SHARED read-write and MAP_PRIVATE
 * read-only views of the same 3 pages. Each tick the shared view's counter goes up; the private view must see
 * it (an untouched private page reads the file). argv[1] = working directory. */
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
	if (argc < 2 || chdir(argv[1]))
		return 1;
	int fd = open("mapped.bin", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 3 * 4096))
		return 2;
	volatile unsigned long *sh = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	const volatile unsigned long *pr = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (sh == MAP_FAILED || pr == MAP_FAILED)
		return 3;
	for (int i = 0; i < 3 * 512; i++)
		sh[i] = 0x6768000000000000ul + i;
	unlink("mapped.bin");
	close(fd);
	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 1;; n++) {
		sh[1000]++;
		int ok = 1;
		for (int i = 0; i < 3 * 512; i++)
			if (i != 1000 && (sh[i] != 0x6768000000000000ul + i || pr[i] != sh[i]))
				ok = 0;
		printf("tick %lu counter=%lu private_sees=%lu pattern=%s\n", n, sh[1000] - (0x6768000000000000ul + 1000),
		       pr[1000] - (0x6768000000000000ul + 1000), ok ? "ok" : "BAD");
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
