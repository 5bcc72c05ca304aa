/* ckpt-dump-guard: undoes a dump's hold on the network if ckpt itself dies in the middle (SIGKILL, a crash),
 * which nothing inside ckpt can. Without it the lock's rules stay and the tree, detached by the kernel, runs
 * on with sockets in repair mode (recv EPERM, send EINVAL); criu 4.2 leaves both too. ckpt (src/dump-guard.ts)
 * starts it, in a session of its own, before it locks anything, and tells it on stdin, one line each:
 *   task PID               a task of the frozen tree
 *   repair INO REUSEADDR   the socket with inode INO (an fd of one of the tasks) is about to enter repair mode
 *   unlock WORD...         a command that undoes a part of the lock about to be taken
 *   done                   the dump ended, rolled back or not: nothing to undo
 * At EOF without done: every unlock command runs, then every such socket still open in a task leaves repair
 * mode (taken with pidfd_getfd) with its SO_REUSEADDR back, and one line says what was done. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct sock { unsigned long ino; int reuseaddr; };

static char **cmds;
static size_t nr_cmds;
static struct sock *socks;
static size_t nr_socks;
static pid_t *tasks;
static size_t nr_tasks;

static void *grow(void *p, size_t n, size_t size)
{
	if (n & (n - 1))  /* room doubles at powers of two */
		return p;
	void *q = realloc(p, (n ? 2 * n : 1) * size);
	if (!q) {
		fprintf(stderr, "ckpt-dump-guard: out of memory\n");
		exit(1);
	}
	return q;
}

/* cmd run to its end, its output dropped: 0 when it succeeded */
static int run(char *cmd)
{
	char *argv[64], *save = NULL;
	int n = 0;
	for (char *w = strtok_r(cmd, " ", &save); w && n < 63; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	if (!n)
		return 0;
	pid_t p = fork();
	if (p == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	int status;
	return p > 0 && waitpid(p, &status, 0) == p && WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

/* the socket with inode ino out of repair mode, through the fd of a task that has it: 1 done, 0 not found */
static int resume(const struct sock *s)
{
	char want[64];
	snprintf(want, sizeof(want), "socket:[%lu]", s->ino);
	for (size_t i = 0; i < nr_tasks; i++) {
		char dir[64], path[384], link[64];
		snprintf(dir, sizeof(dir), "/proc/%d/fd", tasks[i]);
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			ssize_t l = readlink(path, link, sizeof(link) - 1);
			if (l <= 0 || (link[l] = 0, strcmp(link, want)))
				continue;
			int pidfd = (int)syscall(SYS_pidfd_open, tasks[i], 0);
			int fd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
			int off = 0, ok = fd >= 0 && setsockopt(fd, SOL_TCP, TCP_REPAIR, &off, sizeof(off)) == 0 &&
					  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &s->reuseaddr, sizeof(int)) == 0;
			if (fd >= 0)
				close(fd);
			if (pidfd >= 0)
				close(pidfd);
			closedir(d);
			return ok;
		}
		if (d)
			closedir(d);
	}
	return 0;
}

int main(void)
{
	/* the signals that end ckpt (the terminal's among them) are not ours */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		unsigned long ino;
		int v;
		if (!strcmp(line, "done"))
			return 0;
		if (!strncmp(line, "unlock ", 7)) {
			cmds = grow(cmds, nr_cmds, sizeof(*cmds));
			cmds[nr_cmds++] = strdup(line + 7);
		} else if (sscanf(line, "repair %lu %d", &ino, &v) == 2) {
			socks = grow(socks, nr_socks, sizeof(*socks));
			socks[nr_socks++] = (struct sock){ ino, v };
		} else if (sscanf(line, "task %d", &v) == 1) {
			tasks = grow(tasks, nr_tasks, sizeof(*tasks));
			tasks[nr_tasks++] = v;
		}
	}
	if (!nr_cmds && !nr_socks)
		return 0;
	/* criu's order: the network unlocked, then repair off (its window probe must get through) */
	size_t failed = 0, resumed = 0;
	for (size_t i = 0; i < nr_cmds; i++)
		failed += run(cmds[i]) < 0;
	for (size_t i = 0; i < nr_socks; i++)
		resumed += resume(&socks[i]);
	fprintf(stderr, "ckpt-dump-guard: ckpt ended in the middle of a dump: %zu of %zu lock command(s) undone, %zu of %zu TCP socket(s) "
		"out of repair mode%s\n", nr_cmds - failed, nr_cmds, resumed, nr_socks, resumed < nr_socks ? " (the others are closed)" : "");
	return failed ? 1 : 0;
}
