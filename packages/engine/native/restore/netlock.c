/* The network lock taken at dump (ckpt's src/netlock.ts, or CRIU's rules) is dropped here, once every task
 * is restored and before any runs, as criu's network_unlock: then the repaired TCP sockets leave repair
 * mode (kinds/tcp-stream.c). ckpt passes the commands in a file named by CKPT_NET_UNLOCK_FILE (or in CKPT_NET_UNLOCK), one command a
 * line, its words separated by single spaces (iptables -D ... rules of the dumped connections, or nft
 * delete table ...). A failing command is reported and the restore goes on, as with criu: the tree is
 * whole, the lock only delays its packets. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "kinds/tcp-stream.h"

static void run_one(char *line)
{
	char *argv[64], *save = NULL;
	int n = 0;
	for (char *w = strtok_r(line, " ", &save); w && n < 63; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	if (!n)
		return;
	pid_t p = fork();
	if (p == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(2, 1); /* our stdout is ckpt's channel */
		execvp(argv[0], argv);
		fprintf(stderr, "Warn: network unlock: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int status = 0;
	if (p < 0 || waitpid(p, &status, 0) != p)
		fprintf(stderr, "Warn: network unlock: cannot run %s: %s\n", argv[0], strerror(errno));
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		fprintf(stderr, "Warn: network unlock: %s failed (status %d)\n", argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* the whole file, NUL-terminated (the rules of every dumped connection: too many for one environment string) */
static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	if (f) {
		FILE *m = open_memstream(&buf, &len);
		char chunk[8192];
		size_t n;
		while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
			fwrite(chunk, 1, n, m);
		if (m)
			fclose(m);
		fclose(f);
	}
	if (!buf)
		fprintf(stderr, "Error: cannot read the network unlock commands %s: %s\n", path, strerror(errno));
	return buf;
}

int net_unlock_and_resume(void)
{
	/* the tree had its own network namespace: criu's network-unlock scripts come first */
	const char *hook = getenv("CKPT_NETNS_UNLOCK_HOOK");
	if (hook && *hook == '1')
		run_scripts("network-unlock", (pid_t)tasks[0].pid);
	const char *path = getenv("CKPT_NET_UNLOCK_FILE"), *list = getenv("CKPT_NET_UNLOCK");
	if ((path && *path) || (list && *list)) {
		char *copy = path && *path ? read_all(path) : strdup(list), *save = NULL;
		if (!copy)
			return -1;
		info("unlocking the network");
		for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			run_one(l);
		free(copy);
	}
	return tcp_streams_resume();
}
