/* timerfd: clock, settime flags, armed interval and value, ticks not yet read */
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
	clockid_t clk = (clockid_t)o->nums[0];
	int sflags = (int)o->nums[6];
	int fd = timerfd_create(clk, (o->flags & O_NONBLOCK ? TFD_NONBLOCK : 0) | TFD_CLOEXEC);
	if (fd < 0)
		return obj_error(o);
	struct itimerspec its = { { (time_t)o->nums[2], (long)o->nums[3] }, { (time_t)o->nums[4], (long)o->nums[5] } };
	/* fdinfo shows an expired periodic timer nobody has read yet as value 0: the kernel forwards it only on
	 * read. Value 0 would disarm it, so it runs on from a full interval (its phase within the period is not
	 * in fdinfo); the pending expirations come back through the ticks below. */
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value = its.it_interval;
	/* fdinfo's value is what remains: an absolute timer needs it back on its clock */
	if ((sflags & TFD_TIMER_ABSTIME) && (its.it_value.tv_sec || its.it_value.tv_nsec)) {
		struct timespec now;
		if (clock_gettime(clk, &now) < 0)
			return obj_error(o);
		its.it_value.tv_sec += now.tv_sec;
		its.it_value.tv_nsec += now.tv_nsec;
		if (its.it_value.tv_nsec >= 1000000000L) {
			its.it_value.tv_sec++;
			its.it_value.tv_nsec -= 1000000000L;
		}
	}
	/* always set, even disarmed: it restores the settime flags (and cancel-on-set) fdinfo shows */
	if (timerfd_settime(fd, sflags, &its, NULL) < 0)
		return obj_error(o);
	if (o->nums[1]) {
		uint64_t ticks = o->nums[1];
		if (ioctl(fd, TFD_IOC_SET_TICKS, &ticks) < 0)
			return obj_error(o);
	}
	return obj_fd(o, fd);
}

const struct kind_ops timerfd_ops = { .kind = OBJ_TIMERFD, .create = create_timerfd };
