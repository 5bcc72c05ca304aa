/* fanotify-marks DIR: a fanotify group (FAN_NONBLOCK, O_LARGEFILE events) with an inode mark on DIR/watched
 * (modify, open, close) and a mount mark on DIR's mount (open, close of directories too) with an ignore mask
 * that survives modification (CRIU's fanotify00). Prints READY, then every 250 ms "tick N marks=M events=E":
 * M "same" while the group's fdinfo lines are those it had at the start, E "ok" when opening and writing
 * DIR/watched just now brought its open, modify and close events. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <time.h>
#include <unistd.h>

static char path[PATH_MAX];

/* the "fanotify " lines of the group's fdinfo, in order */
static void marks(int fd, char *out, size_t len)
{
	char p[64], line[1024];
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(p, "re");
	out[0] = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "fanotify ", 9) && strlen(out) + strlen(line) < len)
			strcat(out, line);
	if (f)
		fclose(f);
}

/* open, write, close the watched file, then the events for it (others on the mount are closed and skipped) */
static const char *events(int fa)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1)
		return "write-failed";
	close(fd);
	static char buf[65536];
	unsigned long seen = 0;
	ssize_t n;
	while ((n = read(fa, buf, sizeof(buf))) > 0) {
		for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			if (m->fd < 0)
				continue;
			char l[64], t[PATH_MAX];
			snprintf(l, sizeof(l), "/proc/self/fd/%d", m->fd);
			ssize_t k = readlink(l, t, sizeof(t) - 1);
			if (k > 0 && (t[k] = 0, !strcmp(t, path)))
				seen |= m->mask;
			close(m->fd);
		}
	}
	unsigned long want = FAN_OPEN | FAN_MODIFY | FAN_CLOSE_WRITE;
	return (seen & want) == want ? "ok" : "missing";
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || snprintf(path, sizeof(path), "%s/watched", argv[1]) >= (int)sizeof(path))
		return 2;
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0)
		return 1;
	close(fd);
	int fa = fanotify_init(FAN_NONBLOCK | FAN_CLASS_NOTIF | FAN_UNLIMITED_QUEUE, O_RDONLY | O_LARGEFILE);
	if (fa < 0) {
		perror("fanotify_init");
		return 1;
	}
	if (fanotify_mark(fa, FAN_MARK_ADD, FAN_MODIFY | FAN_OPEN | FAN_CLOSE, AT_FDCWD, path) ||
	    fanotify_mark(fa, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_ONDIR | FAN_OPEN | FAN_CLOSE, AT_FDCWD, argv[1]) ||
	    fanotify_mark(fa, FAN_MARK_ADD | FAN_MARK_MOUNT | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_ACCESS, AT_FDCWD, argv[1])) {
		perror("fanotify_mark");
		return 1;
	}
	static char start[4096], now[4096];
	marks(fa, start, sizeof(start));
	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 0;; n++) {
		marks(fa, now, sizeof(now));
		const char *m = strcmp(start, now) ? "changed" : strchr(start, '\n') && strstr(start, "mnt_id:") && strstr(start, "ino:") ? "same" : "none";
		printf("tick %lu marks=%s events=%s\n", n, m, events(fa));
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
