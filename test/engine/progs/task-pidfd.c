/* task-pidfd: pidfds (zdtm pidfd_*). P holds a pidfd of itself, one of its child A (PIDFD_NONBLOCK), and one of
 * a process that died (reaped); its child B, forked after, opens one of its sibling A and inherits the others.
 * Every tick each checks its own through fdinfo (Pid:) and pidfd_send_signal; P also checks that its and B's
 * pidfds of A, and of the dead process, are of the same inodes, and flips O_NONBLOCK of its pidfd of A, which
 * B must see flipped too (one open file). B answers through a pipe; P prints
 * "tick N ok" or "tick N BAD ...". With "outside", P also holds a pidfd of a process outside the tree (PID 1),
 * which a dump must refuse. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

static int pidfd_open(pid_t pid, int flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_signal(int fd, int sig) { return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0); }

/* the "Pid:" of a pidfd's fdinfo, or -2 */
static int fdinfo_pid(int fd)
{
	char path[64], line[128];
	int pid = -2;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	if (!f)
		return -2;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid: %d", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

/* 0 when fd is a pidfd of pid (-1: of a dead process) that signals as it should; else why, in out */
static int check_pidfd(const char *name, int fd, pid_t pid, char *out, size_t len)
{
	int got = fdinfo_pid(fd);
	if (got != pid) {
		snprintf(out, len, "%s: fdinfo Pid %d, want %d", name, got, pid);
		return 1;
	}
	int r = pidfd_signal(fd, 0);
	if (pid > 0 ? r != 0 : !(r < 0 && errno == ESRCH)) {
		snprintf(out, len, "%s: pidfd_send_signal: %d (%s)", name, r, r < 0 ? strerror(errno) : "");
		return 1;
	}
	return 0;
}

static ino_t ino_of(const char *path)
{
	struct stat st;
	return stat(path, &st) ? 0 : st.st_ino;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int req[2], resp[2];
	if (pipe(req) || pipe(resp))
		return 1;
	pid_t a = fork();
	if (a == 0)
		for (;;)
			pause();
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	int self_fd = pidfd_open(getpid(), 0), a_fd = pidfd_open(a, PIDFD_NONBLOCK), dead_fd = pidfd_open(gone, 0);
	waitpid(gone, NULL, 0);
	pid_t b = fork();
	if (b == 0) {
		int sib_fd = pidfd_open(a, 0);
		char c, why[256];
		while (read(req[0], &c, 1) == 1) {
			char v = check_pidfd("B's pidfd of A", sib_fd, a, why, sizeof(why)) || check_pidfd("B's dead pidfd", dead_fd, -1, why, sizeof(why)) ? 'b' : 'o';
			if (v == 'b')
				printf("child BAD %s\n", why);
			int nb = !!(fcntl(a_fd, F_GETFL) & O_NONBLOCK);
			if (write(resp[1], &sib_fd, sizeof(sib_fd)) != sizeof(sib_fd) || write(resp[1], &nb, sizeof(nb)) != sizeof(nb) ||
			    write(resp[1], &v, 1) != 1)
				return 1;
		}
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "outside") && pidfd_open(1, 0) < 0)
		return 1;
	printf("READY pid=%d a=%d b=%d\n", getpid(), a, b);
	int want_nb = 1;
	for (unsigned long n = 1;; n++) {
		char why[256] = "", v = '?', path[64];
		int sib_fd = -1, b_nb = -1;
		if (check_pidfd("self", self_fd, getpid(), why, sizeof(why)) || check_pidfd("A", a_fd, a, why, sizeof(why)) ||
		    check_pidfd("dead", dead_fd, -1, why, sizeof(why)))
			;
		else if (!!(fcntl(a_fd, F_GETFL) & O_NONBLOCK) != want_nb || fcntl(self_fd, F_GETFL) & O_NONBLOCK)
			snprintf(why, sizeof(why), "O_NONBLOCK: A %x (want %d) self %x", fcntl(a_fd, F_GETFL), want_nb, fcntl(self_fd, F_GETFL));
		else if (fcntl(a_fd, F_SETFL, (want_nb = !want_nb) ? O_NONBLOCK : 0) || write(req[1], "?", 1) != 1 ||
			 read(resp[0], &sib_fd, sizeof(sib_fd)) != sizeof(sib_fd) || read(resp[0], &b_nb, sizeof(b_nb)) != sizeof(b_nb) ||
			 read(resp[0], &v, 1) != 1)
			snprintf(why, sizeof(why), "B does not answer");
		else if (v != 'o')
			snprintf(why, sizeof(why), "B: its pidfds are wrong");
		else if (b_nb != want_nb)
			snprintf(why, sizeof(why), "B's pidfd of A is another open file: O_NONBLOCK %d there, %d here", b_nb, want_nb);
		else {
			struct stat st;
			snprintf(path, sizeof(path), "/proc/%d/fd/%d", b, sib_fd);
			if (fstat(a_fd, &st) || st.st_ino != ino_of(path))
				snprintf(why, sizeof(why), "P's and B's pidfds of A are of different inodes");
			snprintf(path, sizeof(path), "/proc/%d/fd/%d", b, dead_fd);
			if (!why[0] && (fstat(dead_fd, &st) || st.st_ino != ino_of(path)))
				snprintf(why, sizeof(why), "P's and B's dead pidfds are of different inodes");
		}
		if (why[0])
			printf("tick %lu BAD %s\n", n, why);
		else
			printf("tick %lu ok\n", n);
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
