/* What ckpt's caller asked for around the end of a restore, done here while the helper holds the tree (as
 * criu does them): the pidfile (--pidfile) and the post-restore and pre-resume action scripts before any
 * task runs, post-resume once they run, then one zero byte on --status-fd. ckpt passes them in the
 * environment: CKPT_PIDFILE, CKPT_STATUS_FD, CKPT_ACTION_SCRIPTS (paths, one a line, in the order to run),
 * CKPT_SCRIPT_CWD and CRTOOLS_IMAGE_DIR. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"

int write_pidfile(pid_t root)
{
	const char *path = getenv("CKPT_PIDFILE");
	if (!path || !*path)
		return 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%d\n", root);
	if (fd < 0 || write(fd, buf, len) != len || close(fd) < 0) {
		fprintf(stderr, "Error: cannot write the pidfile %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* a restore that failed after the pidfile was written leaves none */
void remove_pidfile(void)
{
	const char *path = getenv("CKPT_PIDFILE");
	if (path && *path)
		unlink(path);
}

/* every script for hook, as criu's run_shell_scripts: CRTOOLS_SCRIPT_ACTION=hook, CRTOOLS_INIT_PID=root;
 * -1 when one fails (reported) */
int run_scripts(const char *hook, pid_t root)
{
	const char *list = getenv("CKPT_ACTION_SCRIPTS");
	if (!list || !*list)
		return 0;
	char *copy = strdup(list), *save = NULL;
	int ret = 0;
	for (char *path = strtok_r(copy, "\n", &save); path; path = strtok_r(NULL, "\n", &save)) {
		info("running %s script %s", hook, path);
		pid_t p = fork();
		if (p == 0) {
			char pid[16];
			sigset_t none;
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			snprintf(pid, sizeof(pid), "%d", root);
			setenv("CRTOOLS_SCRIPT_ACTION", hook, 1);
			setenv("CRTOOLS_INIT_PID", pid, 1);
			leave_tree_netns();
			/* what the helper needed for itself is not the script's */
			unsetenv("GLIBC_TUNABLES");
			unsetenv("CKPT_ACTION_SCRIPTS");
			const char *cwd = getenv("CKPT_SCRIPT_CWD");
			if (cwd && chdir(cwd) < 0)
				_exit(127);
			dup2(2, 1); /* our stdout is ckpt's channel */
			execl(path, path, (char *)NULL);
			fprintf(stderr, "Error: action script %s: %s\n", path, strerror(errno));
			_exit(127);
		}
		int status = 0;
		if (p < 0 || waitpid(p, &status, 0) != p) {
			fprintf(stderr, "Error: action script %s (%s): cannot run it: %s\n", path, hook, strerror(errno));
			ret = -1;
			break;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "Error: action script %s (%s) %s %d\n", path, hook, WIFEXITED(status) ? "exited with" : "was killed by signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			ret = -1;
			break;
		}
	}
	free(copy);
	return ret;
}

void write_status_fd(void)
{
	const char *s = getenv("CKPT_STATUS_FD");
	if (!s || !*s)
		return;
	int fd = atoi(s);
	if (write(fd, "", 1) != 1)
		fprintf(stderr, "Error: --status-fd %d: %s\n", fd, strerror(errno));
	close(fd);
}
