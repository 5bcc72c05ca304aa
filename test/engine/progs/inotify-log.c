/* inotify-log DIR: prints "READY" once DIR is watched, then one line per inotify event in it: the mask in
 * hex and the name. Events are queued by the kernel as they happen, so the order is exact. */
#include <stdio.h>
#include <sys/inotify.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[65536] __attribute__((aligned(8)));
	int fd = inotify_init1(0);
	if (argc < 2 || fd < 0 || inotify_add_watch(fd, argv[1], IN_ALL_EVENTS) < 0)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("READY\n");
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return 1;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			printf("%x %s\n", e->mask, e->len ? e->name : "");
			p += sizeof(*e) + e->len;
		}
	}
}
