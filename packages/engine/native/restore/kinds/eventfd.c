/* eventfd: its counter */
#include <sys/eventfd.h>
#include <fcntl.h>
#include <unistd.h>

#include "kinds.h"

static int create_eventfd(struct obj *o)
{
	int fd = eventfd((unsigned int)o->nums[0], (o->flags & O_NONBLOCK ? EFD_NONBLOCK : 0) | EFD_CLOEXEC);
	if (fd < 0)
		return obj_error(o);
	if (o->nums[0] > 0xffffffffULL) {  /* eventfd() takes 32 bits: add the rest */
		uint64_t rest = o->nums[0] - (unsigned int)o->nums[0];
		if (write(fd, &rest, 8) != 8)
			return obj_error(o);
	}
	return obj_fd(o, fd);
}

const struct kind_ops eventfd_ops = { .kind = OBJ_EVENTFD, .create = create_eventfd };
