/* mm-aio: an io_setup() context, whose ring the kernel maps into the process ("/[aio]"). Prints READY with the
 * ring's address, then a tick every 250 ms. */
#include <linux/aio_abi.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	aio_context_t ctx = 0;
	if (syscall(SYS_io_setup, 16, &ctx) < 0) {
		perror("io_setup");
		return 1;
	}
	printf("READY pid=%d at=%lx\n", getpid(), (unsigned long)ctx);
	for (unsigned long n = 0;; n++) {
		printf("tick %lu\n", n);
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
