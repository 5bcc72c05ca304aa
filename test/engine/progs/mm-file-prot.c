/* mm-file-prot: a MAP_SHARED mapping of a file opened O_RDWR, one page mapped read-only and one read-write,
 * and one of the same file opened O_RDONLY; the fds closed. Prints READY, then every 250 ms
 * "tick N rw_page=R ro_page=P ro_file=F": R the byte last written through the read-write page, P whether
 * the read-only page of the O_RDWR file can be made writable (mprotect, then back): "mprotect-ok", or the
 * error when the file behind it is no longer open for writing; F the same for the O_RDONLY file's mapping,
 * which must keep failing ("Permission denied"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: mm-file-prot FILE\n");
		return 1;
	}
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 2 * 4096) < 0) {
		perror(argv[1]);
		return 1;
	}
	char *ro = mmap(NULL, 2 * 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (ro == MAP_FAILED || mprotect(ro + 4096, 4096, PROT_READ | PROT_WRITE)) {
		perror("mmap/mprotect");
		return 1;
	}
	volatile char *rw = ro + 4096;
	close(fd);
	fd = open(argv[1], O_RDONLY);
	char *rof = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (rof == MAP_FAILED) {
		perror("O_RDONLY mapping");
		return 1;
	}
	close(fd);
	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 0;; n++) {
		rw[0] = (char)('a' + n % 26);
		const char *p = "mprotect-ok";
		if (mprotect(ro, 4096, PROT_READ | PROT_WRITE))
			p = strerror(errno);
		else
			mprotect(ro, 4096, PROT_READ);
		const char *f = "mprotect-ok";
		if (mprotect(rof, 4096, PROT_READ | PROT_WRITE))
			f = strerror(errno);
		else
			mprotect(rof, 4096, PROT_READ);
		printf("tick %lu rw_page=%c ro_page=%s ro_file=%s\n", n, rw[0], p, f);
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
