/* tcp-est: established TCP connections with data in flight, for a --tcp-established dump (run in a network
 * namespace of its own). A: IPv4, each end has written without the other reading: the accepted end's receive
 * queue is full and the rest waits in the client's send queue; the client's receive queue holds what the
 * accepted end wrote. B: IPv6, the client wrote and shut down its side (fin-wait2), the accepted end read
 * nothing (close-wait). Prints READY and the byte counts; on SIGUSR1 checks every byte of every stream in
 * order, that nothing more follows, that B's EOF comes after its data, and that both connections still carry
 * new data both ways. `tcp-est hold SPORT CPORT` only makes a connection 127.0.0.1:CPORT -> 127.0.0.1:SPORT and
 * keeps it (the ends of a dumped one taken), its packets marked so that the network lock of the dump lets them by. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sock-check.h"

#define CAP_A1 (4 << 20)   /* the client writes until its send buffer is full, at most this */
#define LEN_A2 150000      /* the accepted end writes this much */
#define LEN_B 5000

static int c1, a1, c2, a2;
static long sent_a1, sent_a2;

static unsigned char pattern(int stream, long i)
{
	return (unsigned char)(i * 31 + stream * 7 + (i >> 9));
}

static long write_pattern(int fd, int stream, long max)
{
	unsigned char buf[65536];
	long done = 0;
	while (done < max) {
		size_t n = max - done < (long)sizeof(buf) ? (size_t)(max - done) : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(stream, done + (long)i);
		ssize_t r = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0)
			return -1;
		done += r;
	}
	return done;
}

static int wait_for(int fd, short ev)
{
	struct pollfd p = { fd, ev, 0 };
	return poll(&p, 1, 10000) == 1 ? p.revents : 0;
}

/* reads exactly len bytes of stream from fd and checks each */
static void read_pattern(int fd, int stream, long len, const char *name)
{
	unsigned char buf[65536];
	long got = 0;
	while (got < len) {
		if (!wait_for(fd, POLLIN)) {
			fail("%s: %ld of %ld bytes, then nothing for 10 s", name, got, len);
			return;
		}
		size_t want = len - got < (long)sizeof(buf) ? (size_t)(len - got) : sizeof(buf);
		ssize_t r = recv(fd, buf, want, MSG_DONTWAIT);
		if (r <= 0) {
			fail("%s: %ld of %ld bytes, then %s", name, got, len, r == 0 ? "EOF" : strerror(errno));
			return;
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern(stream, got + i)) {
				fail("%s: byte %ld is 0x%02x, not 0x%02x", name, got + i, buf[i], pattern(stream, got + i));
				return;
			}
		got += r;
	}
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ? -1 : ti.tcpi_state;
}

/* one message from one end to the other */
static void exchange(int from, int to, const char *msg, const char *name)
{
	char b[64];
	if (send(from, msg, strlen(msg), MSG_NOSIGNAL) != (ssize_t)strlen(msg))
		fail("%s: send: %s", name, strerror(errno));
	else if (!wait_for(to, POLLIN) || recv(to, b, sizeof(b), MSG_DONTWAIT) != (ssize_t)strlen(msg) || memcmp(b, msg, strlen(msg)))
		fail("%s: not received as sent", name);
}

static void nothing_more(int fd, const char *name)
{
	char b;
	if (recv(fd, &b, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		fail("%s: more bytes than were written", name);
}

static void verify(void)
{
	if (tcp_state(c2) != TCP_FIN_WAIT2 || tcp_state(a2) != TCP_CLOSE_WAIT)
		fail("B: states %d/%d, not fin-wait2/close-wait", tcp_state(c2), tcp_state(a2));
	read_pattern(a1, 1, sent_a1, "A: client -> accepted");
	read_pattern(c1, 2, sent_a2, "A: accepted -> client");
	nothing_more(a1, "A: accepted");
	nothing_more(c1, "A: client");
	exchange(c1, a1, "ping", "A: client -> accepted after");
	exchange(a1, c1, "pong", "A: accepted -> client after");
	read_pattern(a2, 3, LEN_B, "B: client -> accepted");
	char b;
	if (!wait_for(a2, POLLIN) || recv(a2, &b, 1, MSG_DONTWAIT) != 0)
		fail("B: accepted: no EOF after the data");
	exchange(a2, c2, "bye", "B: accepted -> half-closed client");
	printf(failed ? "RESULT FAIL\n" : "RESULT PASS\n");
}

static int pair(int family, const char *host, int *c, int *a)
{
	struct sockaddr_storage ss = { .ss_family = family };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	inet_pton(family, host, family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr);
	int l = socket(family, SOCK_STREAM, 0), one = 1;
	*c = socket(family, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* a small receive buffer (the accepted end's): what it cannot take stays in the client's send queue */
	int small = 32768;
	if (family == AF_INET)
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (bind(l, (struct sockaddr *)&ss, len) < 0 || getsockname(l, (struct sockaddr *)&ss, &len) < 0 || listen(l, 1) < 0 ||
	    connect(*c, (struct sockaddr *)&ss, len) < 0 || (*a = accept(l, NULL, NULL)) < 0)
		return -1;
	close(l); /* only the connection is dumped */
	return 0;
}

#define SOCCR_MARK 0xC114 /* what the network lock lets by */

static _Noreturn void hold(int sport, int cport)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(sport), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in c = { .sin_family = AF_INET, .sin_port = htons(cport), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int l = socket(AF_INET, SOCK_STREAM, 0), k = socket(AF_INET, SOCK_STREAM, 0), one = 1, mark = SOCCR_MARK;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(k, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(l, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 || setsockopt(k, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ||
	    bind(l, (struct sockaddr *)&s, sizeof(s)) < 0 || listen(l, 1) < 0 || bind(k, (struct sockaddr *)&c, sizeof(c)) < 0 ||
	    connect(k, (struct sockaddr *)&s, sizeof(s)) < 0 || accept(l, NULL, NULL) < 0) {
		printf("hold failed: %s\n", strerror(errno));
		_exit(1);
	}
	printf("READY pid=%d\n", getpid());
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "hold"))
		hold(atoi(argv[2]), atoi(argv[3]));
	signal(SIGUSR1, on_usr1);
	if (pair(AF_INET, "127.0.0.1", &c1, &a1) < 0 || pair(AF_INET6, "::1", &c2, &a2) < 0) {
		printf("setup failed: %s\n", strerror(errno));
		return 1;
	}
	sent_a1 = write_pattern(c1, 1, CAP_A1);
	sent_a2 = write_pattern(a1, 2, LEN_A2);
	if (write_pattern(c2, 3, LEN_B) != LEN_B || shutdown(c2, SHUT_WR) < 0 || !(wait_for(a2, POLLRDHUP) & POLLRDHUP)) {
		printf("setup failed: B: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < 100 && tcp_state(c2) != TCP_FIN_WAIT2; i++)
		usleep(10000);
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	nanosleep(&ts, NULL); /* what is in flight on loopback settles */
	printf("READY pid=%d\n", getpid());
	printf("SENT %ld %ld\n", sent_a1, sent_a2);
	check_forever(verify);
}
