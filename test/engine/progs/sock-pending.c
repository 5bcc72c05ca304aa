/* A listening unix socket with pending (not yet accepted) connections, checked by the program itself after
 * a restore: an accepted connection made before them, then two pending ones (the second bound to a name of
 * its own), which must be accepted in the order they connected; the listener's socket file keeps its mode
 * (0640) and group; a datagram socket bound to a relative name (in the program's cwd) is reachable by that
 * name and keeps it. Prints READY, ticks until SIGUSR1, then prints "RESULT PASS" or "RESULT FAIL: why".
 * argv[1]: a directory for the socket files. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sock-check.h"

static struct sockaddr_un addr(const char *dir, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
	return sa;
}

/* a and b are the two ends of one connection */
static void joined(int a, int b, const char *what)
{
	char c = 0;
	if (write(a, "p", 1) != 1 || recv(b, &c, 1, MSG_DONTWAIT) != 1 || c != 'p')
		fail("%s: the accepted socket is not connected to this client", what);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	if (argc < 2)
		return 1;
	struct sockaddr_un la = addr(argv[1], "listen.sock"), ca = addr(argv[1], "client2.sock");
	unlink(la.sun_path);
	unlink(ca.sun_path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0), acc_c = socket(AF_UNIX, SOCK_STREAM, 0);
	int c1 = socket(AF_UNIX, SOCK_STREAM, 0), c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&la, sizeof(la)) || chmod(la.sun_path, 0640) || chown(la.sun_path, -1, 12345) ||
	    listen(l, 8) || connect(acc_c, (struct sockaddr *)&la, sizeof(la))) {
		perror("listener");
		return 1;
	}
	int acc = accept(l, NULL, NULL);
	if (acc < 0 || connect(c1, (struct sockaddr *)&la, sizeof(la)) || bind(c2, (struct sockaddr *)&ca, sizeof(ca)) ||
	    connect(c2, (struct sockaddr *)&la, sizeof(la))) {
		perror("clients");
		return 1;
	}

	int rel = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un ra = { .sun_family = AF_UNIX, .sun_path = "rel.sock" };
	unlink(ra.sun_path);
	if (bind(rel, (struct sockaddr *)&ra, sizeof(ra))) {
		perror("relative name");
		return 1;
	}

	printf("READY pid=%d\n", getpid());
	for (int i = 0; !check; i++) {
		printf("tick %d\n", i);
		usleep(100000);
	}

	struct stat st;
	if (stat(la.sun_path, &st) || !S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0640 || st.st_gid != 12345)
		fail("listener's socket file: mode 0640 and group 12345 expected, got %o %u", st.st_mode, st.st_gid);
	joined(acc_c, acc, "the connection accepted before the dump");
	int a1 = accept(l, NULL, NULL), a2 = accept(l, NULL, NULL);
	if (a1 < 0 || a2 < 0)
		fail("two pending connections expected: %s", strerror(errno));
	else {
		joined(a1, c1, "first pending connection");
		joined(a2, c2, "second pending connection");
		struct sockaddr_un got;
		socklen_t gl = sizeof(got);
		if (getpeername(a2, (struct sockaddr *)&got, &gl) || strcmp(got.sun_path, ca.sun_path))
			fail("the second client's name: %s expected", ca.sun_path);
	}
	int r = socket(AF_UNIX, SOCK_DGRAM, 0);
	char c = 0;
	struct sockaddr_un got = { 0 };
	socklen_t gl = sizeof(got);
	if (sendto(r, "r", 1, 0, (struct sockaddr *)&ra, sizeof(ra)) != 1 || recv(rel, &c, 1, MSG_DONTWAIT) != 1 || c != 'r')
		fail("the socket bound to the relative name rel.sock is not reachable by it: %s", strerror(errno));
	if (getsockname(rel, (struct sockaddr *)&got, &gl) || strcmp(got.sun_path, "rel.sock"))
		fail("the relative name rel.sock expected, got %s", got.sun_path);
	fcntl(l, F_SETFL, O_NONBLOCK);
	if (accept(l, NULL, NULL) >= 0 || errno != EAGAIN)
		fail("no third pending connection expected");
	if (!failed)
		printf("RESULT PASS\n");
	return failed;
}
