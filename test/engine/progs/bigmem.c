/* A process with N MiB of touched anonymous memory (argv[1], default 512), then idle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
	size_t len = mib << 20;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) return 1;
	for (size_t i = 0; i < len; i += 4096) p[i] = (unsigned char)(i >> 12) | 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("READY pid=%d\n", getpid());
	for (;;) pause();
}
