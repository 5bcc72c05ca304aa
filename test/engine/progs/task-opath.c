/* task-opath: O_PATH fds (zdtm symlink, opath_file): one of a symlink itself (O_NOFOLLOW) and one of a file.
 * Every tick: the first is still that symlink (S_ISLNK, readlinkat gives its target, O_PATH in its flags), the
 * second that file: "tick N ok" or "tick N BAD ...". With "deleted", the symlink is unlinked: a dump makes it a
 * ghost symlink. Files are made in the current directory. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char target[] = "opath-target", link_name[] = "opath-link";
	unlink(link_name);
	close(open(target, O_CREAT | O_WRONLY, 0644));
	if (symlink(target, link_name))
		return 1;
	int lfd = open(link_name, O_PATH | O_NOFOLLOW), ffd = open(target, O_PATH);
	struct stat fst0;
	if (lfd < 0 || ffd < 0 || fstat(ffd, &fst0))
		return 1;
	if (argc > 1 && !strcmp(argv[1], "deleted"))
		unlink(link_name);
	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 1;; n++) {
		struct stat st, fst;
		char buf[256] = "", why[300] = "";
		ssize_t r = readlinkat(lfd, "", buf, sizeof(buf) - 1);
		if (fstat(lfd, &st) || !S_ISLNK(st.st_mode))
			snprintf(why, sizeof(why), "the symlink fd is not a symlink");
		else if (r < 0 || strcmp(buf, target))
			snprintf(why, sizeof(why), "the symlink reads '%s'", r < 0 ? "(error)" : buf);
		else if (!(fcntl(lfd, F_GETFL) & O_PATH) || !(fcntl(ffd, F_GETFL) & O_PATH))
			snprintf(why, sizeof(why), "not O_PATH: %x %x", fcntl(lfd, F_GETFL), fcntl(ffd, F_GETFL));
		else if (fstat(ffd, &fst) || fst.st_ino != fst0.st_ino)
			snprintf(why, sizeof(why), "the file fd is another file");
		if (why[0])
			printf("tick %lu BAD %s\n", n, why);
		else
			printf("tick %lu ok\n", n);
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
