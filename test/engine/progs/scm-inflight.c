/* Files in flight in unix socket queues (SCM_RIGHTS), checked by the program itself after a restore:
 *  - datagram pair: a pipe's read end, closed by the sender (the message is its only reference)
 *  - stream pair: "hello" with a regular file (offset 3) and the write end of that pipe, both closed here
 *  - seqpacket pair: a pipe end the task keeps open too (same open file description: flags are shared)
 *  - datagram pair whose sender end is closed: a message with an eventfd (counter 7)
 *  - datagram pair: one end of a stream socketpair, "sk" queued on it (a socket in flight, with its queue)
 * Prints READY, ticks until SIGUSR1, then receives everything and prints "RESULT PASS" or "RESULT FAIL: why".
 * argv[1]: a directory for the regular file; argv[2] "epoll": an epoll in flight too, its target a socket the task
 * keeps (it must come back registered under its fd number: EPOLL_CTL_MOD by that number finds it); "epoll-moved":
 * the same, but the target moved to another fd number since (a dump must refuse it). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock-check.h"

static void send_fds(int sk, const char *data, const int *fds, int n)
{
	char ctl[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { (void *)data, strlen(data) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	if (sendmsg(sk, &mh, 0) != (ssize_t)strlen(data)) {
		perror("sendmsg");
		exit(1);
	}
}

/* receives one message: its data must be want, and it must carry n fds (into fds) */
static int recv_fds(int sk, const char *what, const char *want, int *fds, int n)
{
	char buf[64], ctl[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t r = recvmsg(sk, &mh, MSG_DONTWAIT);
	if (r != (ssize_t)strlen(want) || memcmp(buf, want, r)) {
		fail("%s: \"%s\" expected, got %zd (%s)", what, want, r, r < 0 ? strerror(errno) : "other data");
		return -1;
	}
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int) * n)) {
		fail("%s: %d file(s) expected with the message", what, n);
		return -1;
	}
	memcpy(fds, CMSG_DATA(c), sizeof(int) * n);
	return 0;
}

int main(int argc, char **argv)
{
	int dg[2], st[2], sq[2], gone[2], p[2], q[2], f, ev, sp[2], via[2];
	char path[4096];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	if (argc < 2 || socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) || socketpair(AF_UNIX, SOCK_STREAM, 0, st) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq) || socketpair(AF_UNIX, SOCK_DGRAM, 0, gone) || pipe(p) || pipe(q) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || socketpair(AF_UNIX, SOCK_DGRAM, 0, via)) {
		perror("setup");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/scm-file", argv[1]);
	f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ev = eventfd(7, 0);
	if (f < 0 || ev < 0 || write(f, "0123456789", 10) != 10 || lseek(f, 3, SEEK_SET) != 3) {
		perror("file");
		return 1;
	}

	send_fds(dg[0], "pipe-r", &p[0], 1);
	close(p[0]);
	int two[2] = { f, p[1] };
	send_fds(st[0], "hello", two, 2);
	close(f);
	close(p[1]);
	send_fds(sq[0], "kept", &q[1], 1);
	send(sp[0], "sk", 2, 0);
	send_fds(via[0], "sock", &sp[1], 1);
	close(sp[1]);
	send_fds(gone[0], "ev", &ev, 1);
	close(ev);
	close(gone[0]);

	int ep[2], epfd = -1, ep_moved = argc > 2 && !strcmp(argv[2], "epoll-moved");
	if (argc > 2 && !strncmp(argv[2], "epoll", 5)) {
		struct epoll_event e = { .events = EPOLLIN, .data.u64 = 0x1234567890ULL };
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, ep) || (epfd = epoll_create1(0)) < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, ep[1], &e)) {
			perror("epoll");
			return 1;
		}
		send_fds(ep[0], "epoll", &epfd, 1);
		close(epfd);
		if (ep_moved) {
			int moved = dup(ep[1]);
			close(ep[1]);
			ep[1] = moved;
		}
	}

	printf("READY pid=%d\n", getpid());
	for (int i = 0; !check; i++) {
		printf("tick %d\n", i);
		usleep(100000);
	}

	int pr, fw[2], qw, e;
	char buf[16];
	if (!recv_fds(dg[1], "datagram", "pipe-r", &pr, 1) && !recv_fds(st[1], "stream", "hello", fw, 2)) {
		if (lseek(fw[0], 0, SEEK_CUR) != 3)
			fail("regular file: offset 3 expected");
		if (read(fw[0], buf, 3) != 3 || memcmp(buf, "345", 3))
			fail("regular file: \"345\" expected at offset 3");
		if (write(fw[1], "abc", 3) != 3 || read(pr, buf, sizeof(buf)) != 3 || memcmp(buf, "abc", 3))
			fail("the pipe's two ends, both in flight, are one pipe");
	}
	if (!recv_fds(sq[1], "seqpacket", "kept", &qw, 1)) {
		fcntl(q[1], F_SETFL, O_NONBLOCK);
		if (!(fcntl(qw, F_GETFL) & O_NONBLOCK))
			fail("a file in flight and the task's fd of it are one open file description");
		if (write(qw, "z", 1) != 1 || read(q[0], buf, 1) != 1 || buf[0] != 'z')
			fail("the kept pipe end writes into the task's pipe");
	}
	if (!recv_fds(gone[1], "datagram, sender closed", "ev", &e, 1)) {
		uint64_t v = 0;
		if (read(e, &v, sizeof(v)) != sizeof(v) || v != 7)
			fail("eventfd: counter 7 expected, got %llu", (unsigned long long)v);
	}
	int s1;
	if (!recv_fds(via[1], "socket in flight", "sock", &s1, 1)) {
		if (recv(s1, buf, sizeof(buf), MSG_DONTWAIT) != 2 || memcmp(buf, "sk", 2))
			fail("socket in flight: its queue \"sk\" expected");
		if (send(s1, "back", 4, 0) != 4 || recv(sp[0], buf, sizeof(buf), MSG_DONTWAIT) != 4 || memcmp(buf, "back", 4))
			fail("socket in flight: still the peer of the task's socket");
	}
	if (epfd >= 0 && !recv_fds(ep[1], "epoll", "epoll", &epfd, 1)) {
		struct epoll_event ev = { 0 };
		if (epoll_wait(epfd, &ev, 1, 0) != 0)
			fail("epoll: nothing to report expected");
		if (send(ep[0], "x", 1, 0) != 1 || epoll_wait(epfd, &ev, 1, 0) != 1 || ev.data.u64 != 0x1234567890ULL || ev.events != EPOLLIN)
			fail("epoll: its target, readable, not reported with its data");
		ev.events = EPOLLOUT;  /* (a moved target is registered under its old number) */
		if (!ep_moved && epoll_ctl(epfd, EPOLL_CTL_MOD, ep[1], &ev) < 0)
			fail("epoll: target not registered under fd %d: %s", ep[1], strerror(errno));
	}
	if (!failed)
		printf("RESULT PASS\n");
	return failed;
}
