/* paths: what a task holds under /proc and its root and cwd (zdtm chroot, chroot-file, child_opened_proc,
 * cgroup_ignore, unhashed_proc, proc-self).
 * P forks D (killed and reaped below: a dead process), C and E. P holds /proc/self/status (its own), /proc/C/stat
 * (a child's), an fd on the directory /proc/D (of the dead process) and fds on its net and uts namespaces.
 * C holds /proc/P/stat and /proc/self/status, then chroots into paths-root, its cwd staying outside the new root.
 * E has its cwd in /proc/D. Every tick P checks its own and asks C and E over pipes; it prints "tick N ok" or
 * "tick N BAD why". With "otherns", P also holds an fd on a uts namespace none of the tree lives in, which a
 * dump must refuse. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WHY 256

/* 0 when the start of fd's file (pread from 0) has want at offset 0 (at_start) or anywhere; else why */
static int has(const char *name, int fd, const char *want, int at_start, char *why)
{
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0) {
		snprintf(why, WHY, "%s: pread: %s", name, strerror(errno));
		return 1;
	}
	buf[n] = 0;
	char *at = strstr(buf, want);
	if (!at || (at_start && at != buf)) {
		snprintf(why, WHY, "%s: no '%s'", name, want);
		return 1;
	}
	return 0;
}

static int same_inode(const char *name, struct stat *a, const char *path, char *why)
{
	struct stat b;
	if (stat(path, &b) || a->st_dev != b.st_dev || a->st_ino != b.st_ino) {
		snprintf(why, WHY, "%s is not %s", name, path);
		return 1;
	}
	return 0;
}

static int same_link(const char *name, const char *link, const char *want, char *why)
{
	char got[PATH_MAX];
	ssize_t n = readlink(link, got, sizeof(got) - 1);
	got[n < 0 ? 0 : n] = 0;
	if (strcmp(got, want)) {
		snprintf(why, WHY, "%s: %s, want %s", name, got, want);
		return 1;
	}
	return 0;
}

/* a child answering each byte on req with a line: "ok" or why not */
static void serve(int req, int resp, int (*check)(char *why))
{
	char c, why[WHY];
	while (read(req, &c, 1) == 1) {
		strcpy(why, "ok");
		check(why);
		dprintf(resp, "%s\n", why);
	}
	_exit(0);
}

static pid_t P;
static int c_pstat, c_status;
static struct stat c_root, c_cwd;

static int check_c(char *why)
{
	char want[64];
	struct stat st;
	snprintf(want, sizeof(want), "%d (", P);
	if (has("C /proc/P/stat", c_pstat, want, 1, why))
		return 1;
	snprintf(want, sizeof(want), "\nPid:\t%d\n", getpid());
	if (has("C /proc/self/status", c_status, want, 0, why))
		return 1;
	if (stat("/", &st) || st.st_dev != c_root.st_dev || st.st_ino != c_root.st_ino) {
		snprintf(why, WHY, "C: root is not paths-root");
		return 1;
	}
	if (stat(".", &st) || st.st_dev != c_cwd.st_dev || st.st_ino != c_cwd.st_ino) {
		snprintf(why, WHY, "C: cwd is not the directory it was (outside its root)");
		return 1;
	}
	return 0;
}

static char e_cwd[PATH_MAX];

static int check_e(char *why)
{
	char buf[PATH_MAX];
	if (!e_cwd[0]) { /* first asked once D is reaped: what the cwd link says from now on */
		ssize_t n = readlink("/proc/self/cwd", e_cwd, sizeof(e_cwd) - 1);
		e_cwd[n < 0 ? 0 : n] = 0;
	}
	if (getcwd(buf, sizeof(buf)) || errno != ENOENT) {
		snprintf(why, WHY, "E: getcwd in a dead /proc/PID: %s", errno == ENOENT ? buf : strerror(errno));
		return 1;
	}
	return same_link("E cwd", "/proc/self/cwd", e_cwd, why);
}

static void ask(FILE *in, int out, const char *who, char *why)
{
	char line[WHY];
	if (write(out, "?", 1) != 1 || !fgets(line, sizeof(line), in)) {
		snprintf(why, WHY, "%s does not answer", who);
		return;
	}
	line[strcspn(line, "\n")] = 0;
	if (strcmp(line, "ok"))
		snprintf(why, WHY, "%s", line);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int otherns = argc > 1 && !strcmp(argv[1], "otherns");
	P = getpid();
	char path[PATH_MAX];
	int creq[2], cresp[2], ereq[2], eresp[2], ready[2];
	if (pipe(creq) || pipe(cresp) || pipe(ereq) || pipe(eresp) || pipe(ready))
		return 1;
	mkdir("paths-root", 0755);

	pid_t d = fork();
	if (d == 0)
		for (;;)
			pause();
	pid_t c = fork();
	if (c == 0) {
		snprintf(path, sizeof(path), "/proc/%d/stat", P);
		c_pstat = open(path, O_RDONLY);
		c_status = open("/proc/self/status", O_RDONLY);
		if (c_pstat < 0 || c_status < 0 || stat(".", &c_cwd) || stat("paths-root", &c_root) || chroot("paths-root"))
			_exit(1);
		serve(creq[0], cresp[1], check_c);
	}
	pid_t e = fork();
	if (e == 0) {
		snprintf(path, sizeof(path), "/proc/%d", d);
		if (chdir(path) || write(ready[1], "!", 1) != 1)
			_exit(1);
		serve(ereq[0], eresp[1], check_e);
	}
	if (read(ready[0], path, 1) != 1)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d", d);
	int dead_dir = open(path, O_RDONLY | O_DIRECTORY);
	snprintf(path, sizeof(path), "/proc/%d/stat", c);
	int cstat = open(path, O_RDONLY);
	int status = open("/proc/self/status", O_RDONLY);
	int net = open("/proc/self/ns/net", O_RDONLY), uts = open("/proc/self/ns/uts", O_RDONLY);
	if (dead_dir < 0 || cstat < 0 || status < 0 || net < 0 || uts < 0)
		return 1;
	kill(d, SIGKILL);
	waitpid(d, NULL, 0);
	char dead_link[PATH_MAX], fdlink[64];
	snprintf(fdlink, sizeof(fdlink), "/proc/self/fd/%d", dead_dir);
	ssize_t n = readlink(fdlink, dead_link, sizeof(dead_link) - 1);
	dead_link[n < 0 ? 0 : n] = 0;
	if (!strstr(dead_link, " (deleted)"))
		return 1;

	int other = -1;
	if (otherns) {
		int p[2];
		pipe(p);
		pid_t u = fork();
		if (u == 0) {
			unshare(CLONE_NEWUTS);
			close(p[0]);
			close(p[1]);
			pause();
		}
		close(p[1]);
		read(p[0], path, 1);
		snprintf(path, sizeof(path), "/proc/%d/ns/uts", u);
		other = open(path, O_RDONLY);
		kill(u, SIGKILL);
		waitpid(u, NULL, 0);
	}

	FILE *cin = fdopen(cresp[0], "r"), *ein = fdopen(eresp[0], "r");
	printf("READY pid=%d\n", P);
	for (int tick = 0;; tick++) {
		char why[WHY] = "", want[64];
		struct stat st;
		snprintf(want, sizeof(want), "\nPid:\t%d\n", P);
		if (!has("P /proc/self/status", status, want, 0, why)) {
			snprintf(want, sizeof(want), "%d (", c);
			if (!has("P /proc/C/stat", cstat, want, 1, why) && !same_link("P /proc/D fd", fdlink, dead_link, why) &&
			    !fstat(net, &st) && !same_inode("P net ns fd", &st, "/proc/self/ns/net", why) && !fstat(uts, &st) &&
			    !same_inode("P uts ns fd", &st, "/proc/self/ns/uts", why)) {
				ask(cin, creq[1], "C", why);
				if (!why[0])
					ask(ein, ereq[1], "E", why);
			}
		}
		if (why[0])
			printf("tick %d BAD %s\n", tick, why);
		else
			printf("tick %d ok\n", tick);
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	(void)other;
}
