/* ghost-setuid: holds a deleted setuid file (mode 04755, 6000 bytes of a pattern) open at fd 3, made in
 * argv[1]. Prints READY, then every 250 ms a tick with what fstat and pread see of it. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[4096], buf[6000];
	if (argc < 2)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(path, sizeof(path), "%s/suid.bin", argv[1]);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = 'a' + i % 26;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || dup2(fd, 3) != 3 || write(3, buf, sizeof(buf)) != sizeof(buf) || fchmod(3, 04755) || unlink(path))
		return 1;
	if (fd != 3)
		close(fd);
	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 1;; n++) {
		struct stat st;
		char got[sizeof(buf)];
		int ok = fstat(3, &st) == 0 && pread(3, got, sizeof(got), 0) == sizeof(got) && !memcmp(got, buf, sizeof(buf));
		printf("tick %lu mode=%o size=%lld data=%s\n", n, (unsigned)(st.st_mode & 07777), (long long)st.st_size, ok ? "ok" : "BAD");
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
