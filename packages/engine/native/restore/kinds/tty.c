/* terminals: a pty pair of the tree (master, then its slave), and a shell job's terminal (the caller's) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "kinds.h"

/* a pty master: /dev/ptmx until the dumped index comes up (held ones go back), else the first one we got;
 * the slave's termios and window size, the input queued for the slave. -1 with errno set. */
static int open_pty_master(struct obj *o)
{
	int fd = -1;
	int want = (int)o->nums[0], held[64], nheld = 0, idx = -1;
	for (int tries = 0; tries < 64; tries++) {
		int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (m < 0 || ioctl(m, TIOCGPTN, &idx) < 0)
			return -1;
		if (idx == want) { fd = m; break; }
		held[nheld++] = m;
		if (idx > want)
			break;
	}
	if (fd < 0) {
		fd = held[0];
		ioctl(fd, TIOCGPTN, &idx);
		fprintf(stderr, "Warn: %s: /dev/pts/%d is in use, the pty gets /dev/pts/%d\n", o->label, want, idx);
	}
	for (int k = 0; k < nheld; k++)
		if (held[k] != fd)
			close(held[k]);
	int unlock = 0;
	ioctl(fd, TIOCSPTLCK, &unlock);
	o->pty_index = idx;
	char sp[32];
	snprintf(sp, sizeof(sp), "/dev/pts/%d", idx);
	int s = open(sp, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return -1;
	if (o->nums[12]) {
		struct termios tio;
		tcgetattr(s, &tio);
		tio.c_iflag = (tcflag_t)o->nums[1]; tio.c_oflag = (tcflag_t)o->nums[2];
		tio.c_cflag = (tcflag_t)o->nums[3]; tio.c_lflag = (tcflag_t)o->nums[4]; tio.c_line = (cc_t)o->nums[5];
		for (uint64_t k = 0; k < 19 && 13 + k < o->nr_nums && k < NCCS; k++)
			tio.c_cc[k] = (cc_t)o->nums[13 + k];
		if (tcsetattr(s, TCSANOW, &tio) < 0)
			return -1;
	}
	struct winsize ws = { (unsigned short)o->nums[6], (unsigned short)o->nums[7], (unsigned short)o->nums[8], (unsigned short)o->nums[9] };
	ioctl(s, TIOCSWINSZ, &ws);
	if (o->data.len && write(fd, o->data.p, o->data.len) != (ssize_t)o->data.len)
		return -1;
	if (o->nums[11]) {
		int on = 1;
		ioctl(fd, TIOCPKT, &on);
	}
	close(s);
	return fd;
}

static int create_pty_master(struct obj *o)
{
	int fd = open_pty_master(o);
	if (fd < 0)
		return obj_error(o);
	return obj_fd(o, fd);
}

/* the slave of a pty pair of the tree: its master (an earlier object) is open */
static int create_pty_slave(struct obj *o)
{
	char sp[32];
	snprintf(sp, sizeof(sp), "/dev/pts/%d", objs[o->nums[0]].pty_index);
	int fd = open(sp, (int)(o->flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_NOCTTY);
	if (fd < 0)
		return obj_error(o);
	return obj_fd(o, fd);
}

/* a shell job's terminal: the caller's (our stdin), as CRIU does */
static int create_caller_tty(struct obj *o)
{
	if (!isatty(0)) {
		fprintf(stderr, "Error: %s: ckpt's stdin is not a terminal (run the restore of a shell job from one)\n", o->label);
		return -1;
	}
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return obj_error(o);
	return obj_fd(o, fd);
}

const struct kind_ops pty_master_ops = { .kind = OBJ_PTY_MASTER, .create = create_pty_master };
const struct kind_ops pty_slave_ops = { .kind = OBJ_PTY_SLAVE, .create = create_pty_slave };
const struct kind_ops caller_tty_ops = { .kind = OBJ_CALLER_TTY, .create = create_caller_tty };
