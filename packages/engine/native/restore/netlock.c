/* The network lock taken at dump (ckpt's src/netlock.ts, or CRIU's rules) is dropped here, once every task
 * is restored and before any runs, as criu's network_unlock: then the repaired TCP sockets leave repair
 * mode (kinds/tcp-stream.c). ckpt passes the commands in a file named by CKPT_NET_UNLOCK_FILE (or in
 * CKPT_NET_UNLOCK): one command a line, its words separated by single spaces (iptables-restore -w --noflush,
 * nft delete table ...); the lines after it that start with a tab are its standard input (the -D rules of
 * the dumped connections, one transaction); a line starting with "? " is a command run only if the last
 * command without "? " failed (the same rules one iptables -D each: a batch is all or nothing). A failing
 * command is reported and the restore goes on, as with criu: the tree is whole, the lock only delays its
 * packets. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create (the helper's build defines it; a test's may not) */
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "kinds/tcp-stream.h"

/* runs the command of line (its words split in place) with input (len bytes, or none) on its stdin; 0 when it
 * exits 0 */
static int run_one(char *line, const char *input, size_t len)
{
	char text[512]; /* the command as it was, for a message */
	snprintf(text, sizeof text, "%s", line);
	char *argv[64], *save = NULL;
	int n = 0;
	for (char *w = strtok_r(line, " ", &save); w && n < 63; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	if (!n)
		return 0;
	/* the input in a memfd, not a pipe: no writer to keep up with the command, no SIGPIPE if it dies first */
	int in = -1;
	if (len) {
		in = memfd_create("ckpt-net-unlock", MFD_CLOEXEC);
		size_t done = 0;
		while (in >= 0 && done < len) {
			ssize_t w = write(in, input + done, len - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				close(in);
				in = -1;
			} else
				done += w;
		}
		if (in < 0 || lseek(in, 0, SEEK_SET) != 0) {
			fprintf(stderr, "Warn: network unlock: cannot pass the input of %s: %s\n", argv[0], strerror(errno));
			if (in >= 0)
				close(in);
			return -1;
		}
	}
	pid_t p = fork();
	if (p == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(2, 1); /* our stdout is ckpt's channel */
		if (in >= 0)
			dup2(in, 0);
		execvp(argv[0], argv);
		fprintf(stderr, "Warn: network unlock: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (in >= 0)
		close(in);
	int status = 0;
	if (p < 0 || waitpid(p, &status, 0) != p) {
		fprintf(stderr, "Warn: network unlock: cannot run %s: %s\n", argv[0], strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "Warn: network unlock: `%s` failed (status %d); the restore goes on, as criu's\n", text,
			WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		return -1;
	}
	return 0;
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

/* the commands of text (changed in place): see the top of this file */
static void run_all(char *text)
{
	int failed = 0;
	for (char *l = text, *next; l && *l; l = next) {
		next = strchr(l, '\n');
		if (next)
			*next++ = 0;
		if (!strncmp(l, "? ", 2)) {
			if (failed)
				run_one(l + 2, NULL, 0);
			continue;
		}
		if (*l == '\t')
			continue; /* input without a command: nothing to feed it to */
		/* its input: the tab lines that follow, tabs dropped, gathered in place over themselves */
		char *in = next, *end = next;
		while (next && *next == '\t') {
			char *nl = strchr(next, '\n');
			size_t n = nl ? (size_t)(nl - next) : strlen(next);
			memmove(end, next + 1, n - 1);
			end += n - 1;
			*end++ = '\n';
			next = nl ? nl + 1 : NULL;
		}
		failed = run_one(l, in, in ? (size_t)(end - in) : 0) != 0;
	}
}

int net_unlock_and_resume(void)
{
	const char *path = getenv("CKPT_NET_UNLOCK_FILE"), *list = getenv("CKPT_NET_UNLOCK");
	if ((path && *path) || (list && *list)) {
		char *copy = path && *path ? read_all(path) : strdup(list);
		if (!copy)
			return -1;
		info("unlocking the network");
		run_all(copy);
		free(copy);
	}
	return tcp_streams_resume();
}
