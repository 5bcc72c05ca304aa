/* ghosts: holds files that are gone from the filesystem, all made under argv[1]/g:
 *   fd 3   a removed directory whose parent is removed too (g/gone/sub)
 *   cwd    a removed directory (g/cwd), also open at fd 11
 *   fd 4   a removed character device node (1:3, /dev/null's, mode 0620)
 *   fd 5   a removed FIFO with 5 unread bytes
 *   fd 6   a removed symlink (O_PATH | O_NOFOLLOW) to "target-of-link"
 *   fd 7   an O_TMPFILE file (never had a name) holding "tmpdata"
 *   fd 8   inotify, watching g/watched, removed and held open at fd 9
 *   fd 10  g/linked, removed but still named g/linked.other (the same inode must come back)
 * Prints READY, then every 200 ms "tick N ok" or "tick N BAD <what>" after checking each of them (the
 * watch: an fchmod of fd 9 must raise IN_ATTRIB on it). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static char g[PATH_MAX];
static int wd;
static ino_t linked_ino;

static char *at(const char *name)
{
	static char buf[4][PATH_MAX];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", g, name);
	return buf[k];
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void put(int fd, int want)
{
	if (fd < 0)
		die("open");
	if (fd != want && (dup2(fd, want) != want || close(fd)))
		die("dup2");
}

static char bad[512];

static void no(const char *fmt, ...)
{
	if (bad[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(bad, sizeof(bad), fmt, ap);
	va_end(ap);
}

static void link_is(const char *link, const char *want)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = 0;
	if (strcmp(buf, want))
		no("%s is %s, not %s", link, buf, want);
}

static void check(unsigned long tick)
{
	struct stat st, st2;
	char buf[64], want[PATH_MAX];

	bad[0] = 0;
	if (fstat(3, &st) || !S_ISDIR(st.st_mode) || st.st_nlink != 0)
		no("fd 3: not a removed directory");
	snprintf(want, sizeof(want), "%s (deleted)", at("gone/sub"));
	link_is("/proc/self/fd/3", want);

	if (stat("/proc/self/cwd", &st) || fstat(11, &st2) || st.st_ino != st2.st_ino || st.st_dev != st2.st_dev)
		no("cwd and fd 11 are not the same directory");
	else if (st.st_nlink != 0)
		no("cwd: not removed");
	snprintf(want, sizeof(want), "%s (deleted)", at("cwd"));
	link_is("/proc/self/cwd", want);

	if (fstat(4, &st) || st.st_mode != (S_IFCHR | 0620) || st.st_rdev != makedev(1, 3) || st.st_nlink != 0 || write(4, "x", 1) != 1)
		no("fd 4: not the removed device node 1:3 of mode 0620");

	int queued = -1;
	if (fstat(5, &st) || !S_ISFIFO(st.st_mode) || st.st_nlink != 0 || ioctl(5, FIONREAD, &queued) || queued != 5)
		no("fd 5: not the removed FIFO with 5 bytes (%d)", queued);

	ssize_t n = readlinkat(6, "", buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = 0;
	if (fstatat(6, "", &st, AT_EMPTY_PATH) || !S_ISLNK(st.st_mode) || st.st_nlink != 0 || strcmp(buf, "target-of-link"))
		no("fd 6: not the removed symlink to target-of-link (%s)", buf);

	n = pread(7, buf, sizeof(buf), 0);
	if (fstat(7, &st) || st.st_nlink != 0 || n != 7 || memcmp(buf, "tmpdata", 7) || (fcntl(7, F_GETFL) & O_ACCMODE) != O_RDWR)
		no("fd 7: not the O_TMPFILE file with tmpdata");

	/* the watch is on fd 9's inode */
	char ev[4096] __attribute__((aligned(8)));
	while (read(8, ev, sizeof(ev)) > 0)
		;
	if (fchmod(9, tick % 2 ? 0600 : 0640))
		no("fchmod fd 9");
	int seen = 0;
	n = read(8, ev, sizeof(ev));
	for (ssize_t off = 0; off < n; off += sizeof(struct inotify_event) + ((struct inotify_event *)(ev + off))->len) {
		struct inotify_event *e = (struct inotify_event *)(ev + off);
		if (e->wd == wd && (e->mask & IN_ATTRIB))
			seen = 1;
	}
	if (!seen)
		no("inotify: no IN_ATTRIB on wd %d for fd 9", wd);

	n = pread(10, buf, sizeof(buf), 0);
	if (fstat(10, &st) || st.st_ino != linked_ino || st.st_nlink != 1 || n != 6 || memcmp(buf, "linked", 6))
		no("fd 10: not the inode still named linked.other");
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	snprintf(g, sizeof(g), "%s/g", argv[1]);
	if (mkdir(g, 0755) || mkdir(at("gone"), 0755) || mkdir(at("gone/sub"), 0750) || mkdir(at("cwd"), 0700))
		die("mkdir");

	put(open(at("gone/sub"), O_RDONLY | O_DIRECTORY), 3);
	if (rmdir(at("gone/sub")) || rmdir(at("gone")))
		die("rmdir gone");
	if (chdir(at("cwd")))
		die("chdir");
	put(open(".", O_RDONLY | O_DIRECTORY), 11);
	if (rmdir(at("cwd")))
		die("rmdir cwd");

	if (mknod(at("null"), S_IFCHR | 0600, makedev(1, 3)))
		die("mknod");
	put(open(at("null"), O_RDWR), 4);
	if (fchmod(4, 0620))  /* a mode the umask would not give */
		die("fchmod null");
	if (unlink(at("null")))
		die("unlink null");

	if (mkfifo(at("fifo"), 0640))
		die("mkfifo");
	put(open(at("fifo"), O_RDWR | O_NONBLOCK), 5);
	if (write(5, "hello", 5) != 5 || unlink(at("fifo")))
		die("fifo");

	if (symlink("target-of-link", at("sym")))
		die("symlink");
	put(open(at("sym"), O_PATH | O_NOFOLLOW), 6);
	if (unlink(at("sym")))
		die("unlink sym");

	put(open(g, O_TMPFILE | O_RDWR, 0600), 7);
	if (write(7, "tmpdata", 7) != 7)
		die("write tmpfile");

	put(open(at("watched"), O_RDWR | O_CREAT | O_EXCL, 0644), 9);
	put(inotify_init1(IN_NONBLOCK), 8);
	wd = inotify_add_watch(8, at("watched"), IN_ATTRIB | IN_MODIFY | IN_CLOSE_WRITE);
	if (wd < 0 || unlink(at("watched")))
		die("inotify");

	struct stat st;
	put(open(at("linked"), O_RDWR | O_CREAT | O_EXCL, 0644), 10);
	if (write(10, "linked", 6) != 6 || link(at("linked"), at("linked.other")) || unlink(at("linked")) || fstat(10, &st))
		die("linked");
	linked_ino = st.st_ino;

	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 1;; n++) {
		check(n);
		if (bad[0])
			printf("tick %lu BAD %s\n", n, bad);
		else
			printf("tick %lu ok\n", n);
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
