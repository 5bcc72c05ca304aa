/* A console (5:1) and a virtual terminal (4:5) opened from device nodes made in the current directory;
 * after restore (SIGUSR1) the program checks each fd is the same device at the same path.
 * Prints "READY pid=P", then "PASS" or "FAIL: why". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	const char *names[2] = { "console.dev", "vt.dev" };
	dev_t devs[2] = { makedev(5, 1), makedev(4, 5) };
	int fds[2], fails = 0;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return 1;
	for (int i = 0; i < 2; i++) {
		unlink(names[i]);
		if (mknod(names[i], S_IFCHR | 0600, devs[i]) < 0 || (fds[i] = open(names[i], O_RDONLY | O_NOCTTY)) < 0) {
			printf("FAIL: %s: cannot make or open it\n", names[i]);
			return 1;
		}
	}
	printf("READY pid=%d\n", getpid());
	while (!go)
		pause();
	for (int i = 0; i < 2; i++) {
		struct stat st;
		char link[PATH_MAX + 32], want[PATH_MAX + 32], proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fds[i]);
		ssize_t n = readlink(proc, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = 0;
		snprintf(want, sizeof(want), "%s/%s", cwd, names[i]);
		if (fstat(fds[i], &st) < 0 || st.st_rdev != devs[i] || strcmp(link, want)) {
			printf("FAIL: fd %d is %s (%d:%d), not %s\n", fds[i], link, major(st.st_rdev), minor(st.st_rdev), want);
			fails++;
		}
		if ((fcntl(fds[i], F_GETFL) & O_ACCMODE) != O_RDONLY) {
			printf("FAIL: fd %d is not read-only\n", fds[i]);
			fails++;
		}
	}
	if (!fails)
		printf("PASS\n");
	return 0;
}
