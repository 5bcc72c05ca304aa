/* Unix sockets whose queues outlive their peers, and shut-down pairs: checks its own state after a restore.
 *  - seqpacket pair, peer closed, messages "one", "" (empty), "three" queued: then end of file
 *  - stream pair, peer closed, "stream-data" queued: then end of file
 *  - datagram pair, peer closed, "dgram-data" queued: then nothing (EAGAIN), and a send is refused
 *  - seqpacket pair, both open, "x" and an empty message queued (an empty message at the end is kept)
 *  - stream pair shut down: one end SHUT_WR, the other SHUT_RD (shutdown states as dumped)
 * Prints READY, ticks until SIGUSR1, then checks everything and prints "RESULT PASS" or "RESULT FAIL: why". */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock-check.h"

/* the next message (or read) of fd is exactly want (NULL: end of file) */
static void expect(int fd, const char *what, const char *want)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (!want) {
		if (n != 0)
			fail("%s: end of file expected, got %zd (%s)", what, n, n < 0 ? strerror(errno) : "data");
		return;
	}
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		fail("%s: \"%s\" expected, got %zd bytes (%s)", what, want, n, n < 0 ? strerror(errno) : "other data");
}

static void pair(int type, int sv[2])
{
	if (socketpair(AF_UNIX, type, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
}

int main(void)
{
	int seq[2], st[2], dg[2], seq2[2], sh[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);

	pair(SOCK_SEQPACKET, seq);
	send(seq[1], "one", 3, 0);
	send(seq[1], "", 0, 0);
	send(seq[1], "three", 5, 0);
	close(seq[1]);

	pair(SOCK_STREAM, st);
	send(st[1], "stream-data", 11, 0);
	close(st[1]);

	pair(SOCK_DGRAM, dg);
	send(dg[1], "dgram-data", 10, 0);
	close(dg[1]);

	pair(SOCK_SEQPACKET, seq2);
	send(seq2[1], "x", 1, 0);
	send(seq2[1], "", 0, 0);

	pair(SOCK_STREAM, sh);
	shutdown(sh[0], SHUT_WR);
	shutdown(sh[1], SHUT_RD);

	printf("READY pid=%d\n", getpid());
	for (int i = 0; !check; i++) {
		printf("tick %d\n", i);
		usleep(100000);
	}

	expect(seq[0], "seqpacket, peer gone, 1st", "one");
	expect(seq[0], "seqpacket, peer gone, 2nd", "");
	expect(seq[0], "seqpacket, peer gone, 3rd", "three");
	expect(seq[0], "seqpacket, peer gone, end", NULL);
	expect(st[0], "stream, peer gone", "stream-data");
	expect(st[0], "stream, peer gone, end", NULL);
	expect(dg[0], "datagram, peer gone", "dgram-data");
	char c;
	if (recv(dg[0], &c, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		fail("datagram, peer gone: the queue should be empty");
	if (send(dg[0], "y", 1, MSG_DONTWAIT) != -1 || errno != ECONNREFUSED)
		fail("datagram, peer gone: send should be refused (%s)", strerror(errno));
	expect(seq2[0], "seqpacket, 1st", "x");
	expect(seq2[0], "seqpacket, empty message", "");
	if (recv(seq2[0], &c, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		fail("seqpacket: the queue should be empty now (%s)", strerror(errno));
	if (send(seq2[1], "z", 1, MSG_DONTWAIT) != 1)
		fail("seqpacket: the pair is still connected (%s)", strerror(errno));
	expect(seq2[0], "seqpacket, sent after restore", "z");
	if (send(sh[0], "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != -1 || errno != EPIPE)
		fail("shut down for writing: send should fail with EPIPE (%s)", strerror(errno));
	expect(sh[1], "shut down for reading", NULL);
	if (send(sh[1], "v", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
		fail("the other direction stays open (%s)", strerror(errno));
	expect(sh[0], "the other direction", "v");
	if (!failed)
		printf("RESULT PASS\n");
	return failed;
}
