/* Terminals of every kind the dump handles, checked by the program itself after restore (SIGUSR1):
 * a pty pair that is its session's controlling terminal (opened as /dev/tty too), with data queued both
 * ways, an owner, termios and a window size of its own; a second pty whose master is here and whose slave
 * is only the controlling terminal of a child in a session of its own; a slave whose master was closed.
 * Prints "READY pid=P child=C", then "PASS" or "FAIL: why" on SIGUSR1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t go, hups;
static void on_usr1(int s) { (void)s; go = 1; }
static void on_hup(int s) { (void)s; hups++; }

static int fails;
#define CHECK(c, ...) do { if (!(c)) { printf("FAIL: " __VA_ARGS__); printf("\n"); fails++; } } while (0)

static int pty(int *slave, int flags)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m))
		exit(1);
	if (slave && (*slave = open(ptsname(m), O_RDWR | flags)) < 0)
		exit(1);
	return m;
}

static ssize_t read_all(int fd, char *buf, size_t len)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	size_t off = 0;
	for (;;) {
		ssize_t r = read(fd, buf + off, len - off);
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	fcntl(fd, F_SETFL, fl);
	return (ssize_t)off;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	signal(SIGHUP, on_hup);
	/* 1: our controlling terminal, also as /dev/tty */
	int s1, m1 = pty(&s1, 0);
	int tty = open("/dev/tty", O_RDWR);
	if (tty < 0 || fchown(s1, 1234, 5678))
		return 1;
	struct termios tio;
	tcgetattr(s1, &tio);
	tio.c_cc[VINTR] = 1;
	tcsetattr(s1, TCSANOW, &tio);
	struct winsize ws = { .ws_row = 33, .ws_col = 77 };
	ioctl(s1, TIOCSWINSZ, &ws);
	/* the input echoes abc\r\n (once the line discipline took it in), then the output xyz\r\n */
	struct pollfd in = { .fd = s1, .events = POLLIN };
	if (write(m1, "abc\n", 4) != 4 || poll(&in, 1, 5000) != 1 || write(s1, "xyz\n", 4) != 4)
		return 1;
	/* 2: a child's controlling terminal, only the master here */
	int m2 = pty(NULL, 0);
	pid_t child = fork();
	if (child == 0) {
		setsid();
		int s = open(ptsname(m2), O_RDWR);
		close(s);
		pause();
		_exit(0);
	}
	pid_t sid2 = 0;
	for (int i = 0; i < 500 && ioctl(m2, TIOCGSID, &sid2) < 0; i++)
		usleep(10000);
	/* its termios and window size (set through the master) and a line queued for it */
	tcgetattr(m2, &tio);
	tio.c_cc[VKILL] = 2;
	tcsetattr(m2, TCSANOW, &tio);
	struct winsize ws2 = { .ws_row = 11, .ws_col = 22 };
	ioctl(m2, TIOCSWINSZ, &ws2);
	if (write(m2, "m2\n", 3) != 3)
		return 1;
	/* 3: a slave whose master is closed */
	int s3, m3 = pty(&s3, O_NOCTTY);
	close(m3);
	printf("READY pid=%d child=%d\n", getpid(), child);
	while (!go)
		pause();

	char buf[256];
	ssize_t n = read_all(s1, buf, sizeof(buf));
	CHECK(n == 4 && !memcmp(buf, "abc\n", 4), "input for the slave: %zd bytes", n);
	n = read_all(m1, buf, sizeof(buf));
	CHECK(n == 10 && !memcmp(buf, "abc\r\nxyz\r\n", 10), "output for the master: %zd bytes '%.*s'", n, (int)(n > 0 ? n : 0), buf);
	struct stat st;
	fstat(s1, &st);
	CHECK(st.st_uid == 1234 && st.st_gid == 5678, "slave owner %d:%d", st.st_uid, st.st_gid);
	tcgetattr(s1, &tio);
	CHECK(tio.c_cc[VINTR] == 1 && (tio.c_lflag & ECHO), "termios (VINTR %d)", tio.c_cc[VINTR]);
	ioctl(s1, TIOCGWINSZ, &ws);
	CHECK(ws.ws_row == 33 && ws.ws_col == 77, "window %dx%d", ws.ws_row, ws.ws_col);
	pid_t sid = 0;
	CHECK(ioctl(s1, TIOCGSID, &sid) == 0 && sid == getpid(), "controlling terminal: sid %d", sid);
	CHECK(tcgetpgrp(s1) == getpgrp(), "foreground group %d", tcgetpgrp(s1));
	fstat(tty, &st);
	CHECK(st.st_rdev == makedev(5, 0), "/dev/tty is %d:%d", major(st.st_rdev), minor(st.st_rdev));
	write(m1, "q\n", 2);
	CHECK(read(tty, buf, sizeof(buf)) == 2 && buf[0] == 'q', "read through /dev/tty");
	sid = 0;
	CHECK(ioctl(m2, TIOCGSID, &sid) == 0 && sid == child && sid2 == child, "the child's terminal: sid %d", sid);
	tcgetattr(m2, &tio);
	ioctl(m2, TIOCGWINSZ, &ws2);
	CHECK(tio.c_cc[VKILL] == 2 && ws2.ws_row == 11 && ws2.ws_col == 22, "the child's terminal: VKILL %d, window %dx%d", tio.c_cc[VKILL], ws2.ws_row, ws2.ws_col);
	int s2 = open(ptsname(m2), O_RDWR | O_NOCTTY);
	n = s2 < 0 ? -1 : read_all(s2, buf, sizeof(buf));
	CHECK(n == 3 && !memcmp(buf, "m2\n", 3), "the line queued for the child's terminal: %zd bytes", n);
	n = read_all(m2, buf, sizeof(buf));
	CHECK(n == 4 && !memcmp(buf, "m2\r\n", 4), "the echo queued for the child's master: %zd bytes", n);
	CHECK(tcgetattr(s3, &tio) < 0 && errno == EIO, "the slave without master is not hung up");
	CHECK(hups == 0, "%d SIGHUP", (int)hups);
	kill(child, SIGKILL);
	if (!fails)
		printf("PASS\n");
	return 0;
}
