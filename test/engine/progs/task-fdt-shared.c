/* task-fdt-shared: fd tables shared with CLONE_FILES (zdtm fdt_shared). The parent P clones A with CLONE_FILES
 * and forks B; A clones G with CLONE_FILES and forks C. So P, A and G have one table, B and C one each. Every
 * tick P dups an fd to a new number and asks each of them, through pipes, whether it sees that number: A and G
 * must, B and C must not; then P closes it again. P also compares the tables with kcmp(KCMP_FILES). It prints
 * "tick N ok" or "tick N BAD ...". With "siblings", B is cloned with CLONE_FILES too and P then takes a table of
 * its own (unshare): A and B share one that is not their parent's. With "vm", P also clones a task sharing its
 * memory (CLONE_VM). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KCMP_FILES 2
enum { A, G, B, C, NW };
static const char *names[NW] = { "A", "G", "B", "C" };
static int shares[NW] = { 1, 1, 0, 0 };
static int req[NW][2], resp[NW][2], pids_pipe[2];

/* answers each fd number asked with 'y' when this task has it open, 'n' when not */
static int worker(void *arg)
{
	int w = (int)(long)arg;
	for (;;) {
		int fd;
		if (read(req[w][0], &fd, sizeof(fd)) != sizeof(fd))
			_exit(1);
		char c = fcntl(fd, F_GETFD) >= 0 ? 'y' : 'n';
		if (write(resp[w][1], &c, 1) != 1)
			_exit(1);
	}
}

static pid_t clone_files(int (*fn)(void *), long w, int flags)
{
	char *stack = malloc(256 * 1024);
	return clone(fn, stack + 256 * 1024, flags | SIGCHLD, (void *)w);
}

/* A: clones G (sharing) and C (not), tells P their pids, then serves like any worker */
static int task_a(void *arg)
{
	pid_t g = clone_files(worker, G, CLONE_FILES), c = clone_files(worker, C, 0);
	pid_t both[2] = { g, c };
	if (write(pids_pipe[1], both, sizeof(both)) != sizeof(both))
		_exit(1);
	return worker(arg);
}

static long kcmp_files(pid_t a, pid_t b) { return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0); }

static int idle(void *arg)
{
	for (;;)
		pause();
	return arg != NULL;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int w = 0; w < NW; w++)
		if (pipe(req[w]) || pipe(resp[w]))
			return 1;
	if (pipe(pids_pipe))
		return 1;
	int devnull = open("/dev/null", O_RDONLY);
	pid_t pid[NW];
	pid[A] = clone_files(task_a, A, CLONE_FILES);
	int siblings = argc > 1 && !strcmp(argv[1], "siblings");
	pid[B] = clone_files(worker, B, siblings ? CLONE_FILES : 0);
	pid_t gc[2];
	if (read(pids_pipe[0], gc, sizeof(gc)) != sizeof(gc))
		return 1;
	pid[G] = gc[0];
	pid[C] = gc[1];
	if (siblings) {
		if (unshare(CLONE_FILES))
			return 1;
		shares[A] = shares[G] = 0;
	}
	if (argc > 1 && !strcmp(argv[1], "vm"))
		clone_files(idle, 0, CLONE_VM);
	printf("READY pid=%d A=%d G=%d B=%d C=%d\n", getpid(), pid[A], pid[G], pid[B], pid[C]);
	for (unsigned long n = 1;; n++) {
		char why[256] = "";
		int fd = 500 + (int)(n % 32);
		dup2(devnull, fd);
		for (int w = 0; w < NW && !why[0]; w++) {
			char c = '?';
			if (write(req[w][1], &fd, sizeof(fd)) != sizeof(fd) || read(resp[w][0], &c, 1) != 1)
				snprintf(why, sizeof(why), "%s does not answer", names[w]);
			else if (c != (shares[w] ? 'y' : 'n'))
				snprintf(why, sizeof(why), "%s %s fd %d, which P just opened", names[w], c == 'y' ? "sees" : "does not see", fd);
		}
		close(fd);
		for (int w = 0; w < NW && !why[0]; w++)
			if ((kcmp_files(getpid(), pid[w]) == 0) != shares[w])
				snprintf(why, sizeof(why), "kcmp(KCMP_FILES) of P and %s: %ld", names[w], kcmp_files(getpid(), pid[w]));
		if (!why[0] && kcmp_files(pid[B], pid[C]) == 0)
			snprintf(why, sizeof(why), "B and C share a table");
		if (why[0])
			printf("tick %lu BAD %s\n", n, why);
		else
			printf("tick %lu ok\n", n);
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
