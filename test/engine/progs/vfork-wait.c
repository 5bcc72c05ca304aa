/* vfork-wait: the parent waits in vfork() (a wait no signal but SIGKILL ends: it cannot be frozen) for a
 * child that never execs; --timeout must end a dump of it. Prints READY from the child. */
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	pid_t parent = getpid();
	if (vfork() == 0) {
		char buf[64];
		int n = snprintf(buf, sizeof(buf), "READY pid=%d\n", parent);
		syscall(SYS_write, 1, buf, n);
		for (;;)
			syscall(SYS_pause);
	}
	return 0;
}
