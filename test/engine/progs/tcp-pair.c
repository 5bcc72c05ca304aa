/* Both ends of a loopback TCP connection with data in flight, for test/engine/tcp-repair.test.mjs (run in
 * a network namespace of the test's own).
 *   tcp-pair make 4|6      A connects to B's listener; A's receive buffer is small. A sends NA1 bytes that
 *                          B does not read (B's receive queue); B sends until it cannot (A's receive queue
 *                          full, the rest unsent in B's send queue). Prints
 *                          "READY pid=P a=FD b=FD ab=NA1 ba=NB", then on SIGUSR1 (the test has locked the
 *                          connection) A sends NA2 more bytes, which the lock drops (sent, never acknowledged):
 *                          "SENT ab=NA1+NA2". Then waits to be killed.
 *   tcp-pair make 4|6 half the same, but on SIGUSR1 A shuts down its side instead ("SHUT"): A is left in
 *                          FIN-WAIT-2, B in CLOSE-WAIT, each with the other's FIN in its state
 *   tcp-pair restore AB BA [half] rebuilds both ends from two lines on stdin (a state each, as the test writes it:
 *                          family, src, sport, dst, dport, reuseaddr, the 17 numbers of struct tcp_stream after
 *                          the ports, then the receive and send queues in hex), prints "REPAIRED", waits for a
 *                          line (the test unlocks the network), lets both leave repair mode and checks that A
 *                          reads BA bytes and B reads AB bytes, each stream's pattern in order, then that a new
 *                          message goes each way and both see the other's close: "OK" (half: B sees A's
 *                          end after AB bytes, then a message goes from B to A and A sees B's close).
 * Stream bytes: byte i of A->B is (i * 7 + 1) & 0xff, of B->A (i * 13 + 5) & 0xff. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tcp-stream.h"

/* the helper's network unlock (native/restore/netlock.c) runs here as in the helper */
int net_unlock_and_resume(void);
void info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void die(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static unsigned char ab(size_t i) { return (unsigned char)(i * 7 + 1); }
static unsigned char ba(size_t i) { return (unsigned char)(i * 13 + 5); }

static void pattern(unsigned char *b, size_t off, size_t n, unsigned char (*f)(size_t))
{
	for (size_t i = 0; i < n; i++)
		b[i] = f(off + i);
}

static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }

#define NA1 2000
#define NA2 3000

static int make(int family, int half)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (void *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (void *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	}
	int l = socket(family, SOCK_STREAM, 0), a = socket(family, SOCK_STREAM, 0), small = 4096, one = 1;
	if (l < 0 || a < 0 || bind(l, (void *)&ss, sl) < 0 || listen(l, 1) < 0 || getsockname(l, (void *)&ss, &sl) < 0)
		die("listener");
	setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(a, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) < 0 || connect(a, (void *)&ss, sl) < 0)
		die("connect");
	int b = accept(l, NULL, NULL), sndbuf = 65536;
	if (b < 0 || setsockopt(b, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
		die("accept");
	close(l);
	setsockopt(b, SOL_TCP, TCP_NODELAY, &one, sizeof(one));
	static unsigned char buf[1 << 20];
	pattern(buf, 0, NA1, ab);
	if (send(a, buf, NA1, 0) != NA1)
		die("send a->b");
	/* B sends until A's receive queue and B's send queue are full */
	fcntl(b, F_SETFL, O_NONBLOCK);
	size_t nb = 0;
	for (int idle = 0; idle < 20;) {
		pattern(buf, nb, 65536, ba);
		ssize_t r = send(b, buf, 65536, 0);
		if (r > 0) {
			nb += (size_t)r;
			idle = 0;
		} else if (errno == EAGAIN) {
			idle++;
			usleep(10000);
		} else {
			die("send b->a");
		}
	}
	signal(SIGUSR1, on_usr1);
	printf("READY pid=%d a=%d b=%d ab=%d ba=%zu\n", getpid(), a, b, NA1, nb);
	fflush(stdout);
	while (!go)
		pause();
	if (half) {
		/* A is done sending: A FIN-WAIT-2, B CLOSE-WAIT */
		if (shutdown(a, SHUT_WR) < 0)
			die("shutdown a");
		printf("SHUT\n");
		for (;;)
			pause();
	}
	pattern(buf, NA1, NA2, ab);
	if (send(a, buf, NA2, 0) != NA2)
		die("send a->b after the lock");
	printf("SENT ab=%d\n", NA1 + NA2);
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

static int hexval(int c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

static void *unhex(const char *h, uint32_t n)
{
	unsigned char *b = malloc(n + 1);
	if (strlen(h) != 2 * (size_t)n) {
		printf("FAIL queue of %zu hex digits, want %u bytes\n", strlen(h), n);
		exit(1);
	}
	for (uint32_t i = 0; i < n; i++)
		b[i] = (unsigned char)(hexval(h[2 * i]) << 4 | hexval(h[2 * i + 1]));
	return b;
}

/* one state line -> a rebuilt socket in repair mode */
static int rebuild(char *line, const char *label)
{
	struct tcp_stream ts;
	memset(&ts, 0, sizeof(ts));
	char src[64], dst[64];
	static char inq[1 << 22], outq[1 << 22];
	unsigned v[17];
	unsigned sport, dport;
	int n = sscanf(line, "%d %63s %u %63s %u %d %u %u %u %u %u %u %u %u %u %u %u %u %u %u %u %u %u %4194303s %4194303s", &ts.family, src, &sport, dst,
		       &dport, &ts.reuseaddr, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13],
		       &v[14], &v[15], &v[16], inq, outq);
	if (n != 25) {
		printf("FAIL %s: state line has %d fields\n", label, n);
		exit(1);
	}
	inet_pton(ts.family, src, ts.src);
	inet_pton(ts.family, dst, ts.dst);
	ts.sport = (uint16_t)sport;
	ts.dport = (uint16_t)dport;
	ts.state = v[0];
	ts.inq_len = v[1];
	ts.inq_seq = v[2];
	ts.outq_len = v[3];
	ts.outq_seq = v[4];
	ts.unsq_len = v[5];
	ts.opt_mask = v[6];
	ts.snd_wscale = v[7];
	ts.rcv_wscale = v[8];
	ts.mss_clamp = v[9];
	ts.timestamp = v[10];
	ts.has_window = (int)v[11];
	ts.snd_wl1 = v[12];
	ts.snd_wnd = v[13];
	ts.max_window = v[14];
	ts.rcv_wnd = v[15];
	ts.rcv_wup = v[16];
	ts.inq = unhex(strcmp(inq, "-") ? inq : "", ts.inq_len);
	ts.outq = unhex(strcmp(outq, "-") ? outq : "", ts.outq_len);
	int fd = socket(ts.family, SOCK_STREAM, IPPROTO_TCP);
	if (fd < 0 || tcp_stream_restore(fd, &ts, label) < 0) {
		printf("FAIL %s: rebuild (see stderr)\n", label);
		exit(1);
	}
	return fd;
}

/* n bytes of stream f from fd, checked */
static void expect(int fd, size_t n, unsigned char (*f)(size_t), const char *what)
{
	static unsigned char buf[65536];
	size_t got = 0;
	while (got < n) {
		size_t want = n - got < sizeof(buf) ? n - got : sizeof(buf);
		ssize_t r = recv(fd, buf, want, 0);
		if (r <= 0) {
			printf("FAIL %s: %zu of %zu bytes, then %s\n", what, got, n, r == 0 ? "EOF" : strerror(errno));
			exit(1);
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != f(got + (size_t)i)) {
				printf("FAIL %s: byte %zu is %u, want %u\n", what, got + (size_t)i, buf[i], f(got + (size_t)i));
				exit(1);
			}
		got += (size_t)r;
	}
}

static void blocking(int fd)
{
	struct timeval tv = { 20, 0 };
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static int restore(size_t nab, size_t nba, int half)
{
	static char line[2][(1 << 23) + 1024];
	for (int i = 0; i < 2; i++)
		if (!fgets(line[i], sizeof(line[i]), stdin))
			die("state line");
	int a = rebuild(line[0], "A"), b = rebuild(line[1], "B");
	printf("REPAIRED\n");
	fflush(stdout);
	char l[16];
	if (!fgets(l, sizeof(l), stdin))
		die("go line");
	if (net_unlock_and_resume() < 0)
		die("unlock and leave repair mode");
	blocking(a);
	blocking(b);
	expect(b, nab, ab, "B reads A's stream");
	expect(a, nba, ba, "A reads B's stream");
	char m[6] = { 0 };
	if (half) {
		/* A had closed its side: B sees the end of A's stream, A still reads B's */
		if (recv(b, m, 1, 0) != 0)
			die("A's FIN seen by B");
		if (send(b, "pong!", 5, 0) != 5 || recv(a, m, 5, MSG_WAITALL) != 5 || strcmp(m, "pong!"))
			die("pong after restore");
		close(b);
		if (recv(a, m, 1, 0) != 0)
			die("B's close seen by A");
		printf("OK ab=%zu ba=%zu\n", nab, nba);
		return 0;
	}
	if (send(a, "ping", 4, 0) != 4 || recv(b, m, 4, MSG_WAITALL) != 4 || strcmp(m, "ping"))
		die("ping after restore");
	if (send(b, "pong!", 5, 0) != 5 || recv(a, m, 5, MSG_WAITALL) != 5 || strcmp(m, "pong!"))
		die("pong after restore");
	if (shutdown(a, SHUT_WR) < 0 || recv(b, m, 1, 0) != 0)
		die("A's close seen by B");
	close(b);
	if (recv(a, m, 1, 0) != 0)
		die("B's close seen by A");
	printf("OK ab=%zu ba=%zu\n", nab, nba);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int half = argc > 1 && !strcmp(argv[argc - 1], "half");
	if (argc == 3 + half && !strcmp(argv[1], "make"))
		return make(argv[2][0] == '6' ? AF_INET6 : AF_INET, half);
	if (argc == 4 + half && !strcmp(argv[1], "restore"))
		return restore(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10), half);
	fprintf(stderr, "usage: tcp-pair make 4|6 [half] | restore AB BA [half]\n");
	return 2;
}
