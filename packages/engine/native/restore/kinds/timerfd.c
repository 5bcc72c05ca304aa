/* timerfd: clock, armed interval and value, ticks not yet read */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>

#include "kinds.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

static int create_timerfd(struct obj *o)
{
	int fd = timerfd_create((int)o->nums[0], (o->flags & O_NONBLOCK ? TFD_NONBLOCK : 0) | TFD_CLOEXEC);
	if (fd < 0)
		return obj_error(o);
	struct itimerspec its = { { (time_t)o->nums[2], (long)o->nums[3] }, { (time_t)o->nums[4], (long)o->nums[5] } };
	if ((its.it_value.tv_sec || its.it_value.tv_nsec) && timerfd_settime(fd, 0, &its, NULL) < 0)
		return obj_error(o);
	if (o->nums[1]) {
		uint64_t ticks = o->nums[1];
		if (ioctl(fd, TFD_IOC_SET_TICKS, &ticks) < 0)
			return obj_error(o);
	}
	return obj_fd(o, fd);
}

const struct kind_ops timerfd_ops = { .kind = OBJ_TIMERFD, .create = create_timerfd };
