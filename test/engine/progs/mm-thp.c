/* mm-thp: transparent huge pages disabled for its mm (PR_SET_THP_DISABLE). Prints READY, then every 250 ms
 * "tick N thp_disabled=V" with what PR_GET_THP_DISABLE says now (1 as long as the flag survives). */
#include <stdio.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)) {
		perror("PR_SET_THP_DISABLE");
		return 1;
	}
	printf("READY pid=%d\n", getpid());
	for (unsigned long n = 0;; n++) {
		printf("tick %lu thp_disabled=%d\n", n, prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
