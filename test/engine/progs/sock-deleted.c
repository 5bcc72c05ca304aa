/* Unix sockets whose socket files are gone, checked by the program itself after a restore:
 *  - a datagram socket bound to a relative name, its file unlinked and a FIFO made there (the program's cwd),
 *    a socket connected to it: messages still flow, the FIFO is still a FIFO (CRIU: fifo_upon_unix_socket01)
 *  - a datagram socket bound in a directory since removed, a socket connected to it (sk-unix01)
 *  - a listener bound in a directory since removed, a connection accepted from it
 *  - a connection accepted from a listener since closed, its socket file left in place; another whose listener
 *    is closed and its file unlinked (transition/unix_sock, deleted_unix_sock): the accepted sockets keep the
 *    name, the first file is still a socket, the second is not back
 *  - "live.sock": a socket bound there, then its file unlinked and another bound at that name: connecting by the
 *    name reaches the second one
 * Prints READY, ticks until SIGUSR1, then prints "RESULT PASS" or "RESULT FAIL: why".
 * argv[1]: a directory (the cwd) for the socket files; it is made to hold nothing else. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sock-check.h"

static struct sockaddr_un addr(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return sa;
}

static int sock_at(int type, const char *path, int listening)
{
	struct sockaddr_un sa = addr(path);
	int s = socket(AF_UNIX, type, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) || (listening && listen(s, 4))) {
		perror(path);
		exit(1);
	}
	return s;
}

static int connected_to(int type, const char *path)
{
	struct sockaddr_un sa = addr(path);
	int s = socket(AF_UNIX, type, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		perror(path);
		exit(1);
	}
	return s;
}

/* what is sent on a arrives on b */
static void flows(int a, int b, const char *what)
{
	char c = 0;
	if (send(a, "m", 1, MSG_DONTWAIT) != 1 || recv(b, &c, 1, MSG_DONTWAIT) != 1 || c != 'm')
		fail("%s: what one end sends does not reach the other: %s", what, strerror(errno));
}

static void named(int s, const char *path, const char *what)
{
	struct sockaddr_un sa;
	socklen_t l = sizeof(sa);
	if (getsockname(s, (struct sockaddr *)&sa, &l) || l <= sizeof(sa.sun_family) || strcmp(sa.sun_path, path))
		fail("%s: its name is not %s", what, path);
}

static void file_is(const char *path, mode_t type, const char *what)
{
	struct stat st;
	int r = lstat(path, &st);
	if (type ? r < 0 || (st.st_mode & S_IFMT) != type : r == 0 || errno != ENOENT)
		fail("%s: %s %s", what, path, type == S_IFIFO ? "is not the FIFO" : type ? "is not a socket file" : "is back");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	if (argc < 2 || chdir(argv[1]))
		return 1;

	int fb = sock_at(SOCK_DGRAM, "fifo.sock", 0), fc = connected_to(SOCK_DGRAM, "fifo.sock");
	if (unlink("fifo.sock") || mkfifo("fifo.sock", 0600)) {
		perror("fifo");
		return 1;
	}
	int ff = open("fifo.sock", O_RDWR);

	if (mkdir("gone", 0700) || mkdir("gone/deeper", 0700))
		return 1;
	int db = sock_at(SOCK_DGRAM, "gone/deeper/dg.sock", 0), dc = connected_to(SOCK_DGRAM, "gone/deeper/dg.sock");
	int l = sock_at(SOCK_STREAM, "gone/deeper/st.sock", 1), lc = connected_to(SOCK_STREAM, "gone/deeper/st.sock");
	int la = accept(l, NULL, NULL);
	if (la < 0 || unlink("gone/deeper/dg.sock") || unlink("gone/deeper/st.sock") || rmdir("gone/deeper") || rmdir("gone"))
		return 1;

	int ol = sock_at(SOCK_STREAM, "closed.sock", 1), oc = connected_to(SOCK_STREAM, "closed.sock");
	int oa = accept(ol, NULL, NULL);
	int ul = sock_at(SOCK_STREAM, "unlinked.sock", 1), uc = connected_to(SOCK_STREAM, "unlinked.sock");
	int ua = accept(ul, NULL, NULL);
	if (oa < 0 || ua < 0 || close(ol) || close(ul) || unlink("unlinked.sock"))
		return 1;

	int old = sock_at(SOCK_DGRAM, "live.sock", 0);
	if (unlink("live.sock"))
		return 1;
	int live = sock_at(SOCK_DGRAM, "live.sock", 0);

	printf("READY pid=%d\n", getpid());
	for (int i = 0; !check; i++) {
		printf("tick %d\n", i);
		usleep(100000);
	}

	flows(fc, fb, "datagram socket under a FIFO");
	named(fb, "fifo.sock", "datagram socket under a FIFO");
	file_is("fifo.sock", S_IFIFO, "datagram socket under a FIFO");
	char c = 0;
	if (write(ff, "f", 1) != 1 || read(ff, &c, 1) != 1 || c != 'f')
		fail("the FIFO: what is written is not read back");
	flows(dc, db, "datagram socket in a removed directory");
	flows(lc, la, "connection accepted from a listener in a removed directory");
	flows(la, lc, "connection accepted from a listener in a removed directory (back)");
	named(la, "gone/deeper/st.sock", "connection accepted from a listener in a removed directory");
	struct sockaddr_un sa = addr("gone/deeper/st.sock");
	int probe = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno != ENOENT)
		fail("the listener in a removed directory: its directory is back");
	flows(oc, oa, "connection accepted from a closed listener");
	named(oa, "closed.sock", "connection accepted from a closed listener");
	file_is("closed.sock", S_IFSOCK, "connection accepted from a closed listener");
	flows(uc, ua, "connection accepted from a closed and unlinked listener");
	named(ua, "unlinked.sock", "connection accepted from a closed and unlinked listener");
	file_is("unlinked.sock", 0, "connection accepted from a closed and unlinked listener");
	int to = socket(AF_UNIX, SOCK_DGRAM, 0);
	sa = addr("live.sock");
	if (sendto(to, "l", 1, 0, (struct sockaddr *)&sa, sizeof(sa)) != 1 || recv(live, &c, 1, MSG_DONTWAIT) != 1 ||
	    recv(old, &c, 1, MSG_DONTWAIT) != -1)
		fail("live.sock: not the socket bound there last");
	file_is("gone", 0, "removed directory");
	if (!failed)
		printf("RESULT PASS\n");
	return failed;
}
