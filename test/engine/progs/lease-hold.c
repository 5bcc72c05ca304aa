/* lease-hold: argv[1] = working dir. File leases (F_SETLEASE) and a flock held only through a child:
 *  rd.dat opened three times read-only, read leases on the first and third open files only, shared flocks on
 *    the second and third (two locks of one inode and one owner, told apart by their open files);
 *  wr.dat opened write-only, with a write lease;
 *  fl.dat flock(LOCK_EX)ed by the parent, which forks a child and closes its own fd: the lock is the child's.
 * Each tick the parent prints what F_GETLEASE says of its four fds and whether a fresh open file of fl.dat
 * can take the flock (it must not: the child holds it). Dump/restore need --file-locks. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static void die(const char *m) { perror(m); exit(1); }
static const char *lease(int fd)
{
	int t = fcntl(fd, F_GETLEASE);
	return t == F_RDLCK ? "rd" : t == F_WRLCK ? "wr" : t == F_UNLCK ? "none" : "err";
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || chdir(argv[1])) die("chdir");
	int r[3];
	for (int i = 0; i < 3; i++)
		if ((r[i] = open("rd.dat", O_RDONLY | O_CREAT, 0644)) < 0) die("rd.dat");
	int w = open("wr.dat", O_WRONLY | O_CREAT, 0644);
	if (w < 0) die("wr.dat");
	if (fcntl(r[0], F_SETLEASE, F_RDLCK) || fcntl(r[2], F_SETLEASE, F_RDLCK) || fcntl(w, F_SETLEASE, F_WRLCK)) die("F_SETLEASE");
	if (flock(r[1], LOCK_SH) || flock(r[2], LOCK_SH)) die("flock rd.dat");
	int f = open("fl.dat", O_RDWR | O_CREAT, 0644);
	if (f < 0 || flock(f, LOCK_EX)) die("flock");
	pid_t child = fork();
	if (child < 0) die("fork");
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) pause();
	}
	close(f);
	printf("READY pid=%d child=%d rd=%d,%d,%d wr=%d\n", getpid(), child, r[0], r[1], r[2], w);
	for (unsigned long n = 1;; n++) {
		int t = open("fl.dat", O_RDWR);
		int free_ = flock(t, LOCK_EX | LOCK_NB) == 0;
		close(t);
		printf("tick %lu leases=%s,%s,%s,%s flock_held=%s\n", n, lease(r[0]), lease(r[1]), lease(r[2]), lease(w), free_ ? "no" : "yes");
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
