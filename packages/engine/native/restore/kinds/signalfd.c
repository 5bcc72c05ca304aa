/* signalfd: its signal mask */
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>

#include "kinds.h"

static int create_signalfd(struct obj *o)
{
	sigset_t ss;
	sigemptyset(&ss);
	for (int sig = 1; sig <= 64; sig++)
		if (o->nums[0] & (1ULL << (sig - 1)))
			sigaddset(&ss, sig);
	int fd = signalfd(-1, &ss, (o->flags & O_NONBLOCK ? SFD_NONBLOCK : 0) | SFD_CLOEXEC);
	if (fd < 0)
		return obj_error(o);
	return obj_fd(o, fd);
}

const struct kind_ops signalfd_ops = { .kind = OBJ_SIGNALFD, .create = create_signalfd };
