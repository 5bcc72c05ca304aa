/* inet-conn: a TCP listener on 127.0.0.1, a client connected to it and the accepted end (run in a network
 * namespace of its own). On SIGUSR1 (after a --tcp-close restore) checks that both ends of the connection are
 * closed as criu leaves them (TCP_CLOSE, a read returns 0, POLLHUP, a write fails with EPIPE) and that the
 * listener still accepts a new connection. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sock-check.h"

static int l, c, a;
static struct sockaddr_in addr = { .sin_family = AF_INET };

static void closed(int fd, const char *name)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	char b;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || ti.tcpi_state != TCP_CLOSE)
		fail("%s: not in TCP_CLOSE", name);
	if (recv(fd, &b, 1, MSG_DONTWAIT) != 0)
		fail("%s: a read does not return 0", name);
	struct pollfd p = { fd, POLLHUP, 0 };
	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP))
		fail("%s: no POLLHUP", name);
	if (send(fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != -1 || errno != EPIPE)
		fail("%s: a write does not fail with EPIPE", name);
}

static void verify(void)
{
	closed(c, "client");
	closed(a, "accepted");
	int n = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(n, (struct sockaddr *)&addr, sizeof(addr)) < 0 || accept(l, NULL, NULL) < 0)
		fail("listener: a new connection: %s", strerror(errno));
	printf(failed ? "RESULT FAIL\n" : "RESULT PASS\n");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	socklen_t len = sizeof(addr);
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	l = socket(AF_INET, SOCK_STREAM, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1; /* as servers do: the port is free again while the killed connection lingers */
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || getsockname(l, (struct sockaddr *)&addr, &len) < 0 ||
	    listen(l, 4) < 0 || connect(c, (struct sockaddr *)&addr, sizeof(addr)) < 0 || (a = accept(l, NULL, NULL)) < 0) {
		printf("setup failed: %s\n", strerror(errno));
		return 1;
	}
	printf("READY pid=%d\n", getpid());
	check_forever(verify);
}
