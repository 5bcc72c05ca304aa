/* unsupported-fd: holds a corked UDP socket (UDP_CORK: refused at dump, as by CRIU) and ticks. */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int one = 1;
	if (s < 0 || setsockopt(s, IPPROTO_UDP, UDP_CORK, &one, sizeof(one)) < 0)
		return 1;
	printf("READY pid=%d sock=%d\n", getpid(), s);
	for (unsigned long n = 1;; n++) {
		printf("tick %lu\n", n);
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
