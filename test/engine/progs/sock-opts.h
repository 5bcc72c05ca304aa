/* What the socket option test programs share: die() on a failed setup step, on() to set an int option, get()
 * to read one back (-1000 - errno when that fails). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void die(const char *what)
{
	printf("setup failed: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int on(int s, int level, int name, int v)
{
	return setsockopt(s, level, name, &v, sizeof(v));
}

static int get(int s, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (getsockopt(s, level, name, &v, &l) < 0)
		return -1000 - errno;
	return v;
}
