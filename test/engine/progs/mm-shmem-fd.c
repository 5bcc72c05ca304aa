/* mm-shmem-fd: shared anonymous memory opened as a file, as ZDTM's shmemfd-priv does: a MAP_SHARED mapping
 * of /dev/zero and a MAP_SHARED|MAP_ANONYMOUS one, each reopened through /proc/self/map_files (the fd reads
 * "/dev/zero (deleted)"), and a second MAP_SHARED mapping through the fd of the anonymous one, a page in.
 * Prints READY, then every 250 ms "tick N zero=Z anon=A": each "ok" when what is written through the fd is
 * what its mappings show and back (the fd and the mappings are one inode), else what differed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PG 4096

/* an fd of the memory at p (len bytes), through map_files */
static int reopen(char *p, size_t len)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)p, (unsigned long)p + len);
	return open(path, O_RDWR);
}

/* "ok", or what is wrong: fd and map show the same bytes both ways (map2: the same inode a page in) */
static const char *check(int fd, volatile unsigned *map, volatile unsigned *map2, unsigned n, char *why)
{
	char link[64], target[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t l = readlink(link, target, sizeof(target) - 1);
	target[l < 0 ? 0 : l] = 0;
	if (strcmp(target, "/dev/zero (deleted)"))
		return snprintf(why, 64, "link:%.40s", target), why;
	unsigned v = n, got = 0;
	if (pwrite(fd, &v, sizeof(v), 0) != sizeof(v) || map[0] != n)
		return snprintf(why, 64, "map-sees-fd:%u", map[0]), why;
	map[PG / sizeof(unsigned)] = n + 1;
	if (pread(fd, &got, sizeof(got), PG) != sizeof(got) || got != n + 1)
		return snprintf(why, 64, "fd-sees-map:%u", got), why;
	if (map2 && map2[0] != n + 1)
		return snprintf(why, 64, "second-map:%u", map2[0]), why;
	return "ok";
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int zfd = open("/dev/zero", O_RDWR);
	char *zero = zfd < 0 ? MAP_FAILED : mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, zfd, 0);
	char *anon = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (zero == MAP_FAILED || anon == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	close(zfd);
	int zf = reopen(zero, 2 * PG), af = reopen(anon, 3 * PG);
	char *second = af < 0 ? MAP_FAILED : mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, af, PG);
	if (zf < 0 || second == MAP_FAILED) {
		perror("map_files");
		return 1;
	}
	printf("READY pid=%d\n", getpid());
	for (unsigned n = 1;; n++) {
		char w1[64], w2[64];
		const char *z = check(zf, (unsigned *)zero, NULL, n, w1);
		const char *a = check(af, (unsigned *)anon, (unsigned *)second, n, w2);
		printf("tick %u zero=%s anon=%s\n", n, z, a);
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
