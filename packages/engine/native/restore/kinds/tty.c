/* terminals: a pty pair of the tree (master, then its slaves; a hung-up slave's master is closed once every
 * object is open), /dev/tty as the controlling terminal a pty is, and a shell job's terminal (the caller's).
 * Consoles and virtual terminals are reopened by their path (reg.c). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "kinds.h"

/* /dev/ptmx until the dumped index comes up (held ones go back), else the first one we got; -1 with errno */
static int open_ptmx_at(struct obj *o, int want)
{
	int fd = -1, held[64], nheld = 0, idx = -1;
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
	o->pty_index = idx;
	return fd;
}

/* the queued data goes in unchanged: no echo, no input or output processing while it is written */
static int write_queued(struct obj *o, int master, int slave, const struct termios *want)
{
	if (!o->data.len && !o->out_data.len)
		return 0;
	struct termios quiet = *want;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ISIG | IEXTEN);
	quiet.c_iflag &= ~(tcflag_t)(INLCR | IGNCR | ICRNL | ISTRIP | IUCLC | IXON);
	quiet.c_oflag &= ~(tcflag_t)OPOST;
	if (tcsetattr(slave, TCSANOW, &quiet) < 0)
		return -1;
	if (o->data.len && write(master, o->data.p, o->data.len) != (ssize_t)o->data.len)
		return -1;
	/* the line discipline takes input in later (a work queue): wait until all of it can be read (complete
	 * lines in canonical mode, as the dump read it), so the quiet termios still apply to it */
	int inq = 0;
	for (int tries = 0; o->data.len && tries < 2000; tries++) {
		if (ioctl(slave, FIONREAD, &inq) < 0)
			return -1;
		if ((size_t)inq >= o->data.len)
			break;
		usleep(500);
	}
	if ((size_t)inq < o->data.len) {
		fprintf(stderr, "Error: %s: the terminal took %d of the %lu bytes queued for its slave\n", o->label, inq, (unsigned long)o->data.len);
		errno = EIO;
		return -1;
	}
	if (o->out_data.len && write(slave, o->out_data.p, o->out_data.len) != (ssize_t)o->out_data.len)
		return -1;
	return 0;
}

/* a pty master: the slave's termios, window size and owner, the data queued both ways, packet mode and lock */
static int open_pty_master(struct obj *o)
{
	int fd = open_ptmx_at(o, (int)o->pty_master.index);
	if (fd < 0)
		return -1;
	int unlock = 0;
	ioctl(fd, TIOCSPTLCK, &unlock);
	char sp[32];
	snprintf(sp, sizeof(sp), "/dev/pts/%d", o->pty_index);
	int s = open(sp, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return -1;
	struct termios tio;
	if (tcgetattr(s, &tio) < 0)
		return -1;
	if (o->pty_master.termios_set) {
		tio.c_iflag = (tcflag_t)o->pty_master.iflag; tio.c_oflag = (tcflag_t)o->pty_master.oflag;
		tio.c_cflag = (tcflag_t)o->pty_master.cflag; tio.c_lflag = (tcflag_t)o->pty_master.lflag; tio.c_line = (cc_t)o->pty_master.line;
		for (uint64_t k = 0; 13 + k < o->nr_nums && k < NCCS; k++)
			tio.c_cc[k] = (cc_t)o->pty_master.cc[k];
	}
	if (write_queued(o, fd, s, &tio) < 0 || tcsetattr(s, TCSANOW, &tio) < 0)
		return -1;
	struct winsize ws = { (unsigned short)o->pty_master.ws_row, (unsigned short)o->pty_master.ws_col,
			      (unsigned short)o->pty_master.ws_xpixel, (unsigned short)o->pty_master.ws_ypixel };
	if (ioctl(s, TIOCSWINSZ, &ws) < 0)
		return -1;
	if (o->nr_owner == 2 && fchown(s, (uid_t)o->owner[0], (gid_t)o->owner[1]) < 0)
		return -1;
	close(s);
	int on = 1;
	if (o->pty_master.packet_mode && ioctl(fd, TIOCPKT, &on) < 0)
		return -1;
	if (o->pty_master.locked && ioctl(fd, TIOCSPTLCK, &on) < 0)
		return -1;
	if ((o->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		return -1;
	return fd;
}

static int create_pty_master(struct obj *o)
{
	int fd = open_pty_master(o);
	if (fd < 0)
		return obj_error(o);
	return obj_fd(o, fd);
}

/* the slave of a pty pair (its master, an earlier object, is open) */
static int create_pty_slave(struct obj *o)
{
	char sp[32];
	snprintf(sp, sizeof(sp), "/dev/pts/%d", objs[o->pty_slave.master].pty_index);
	int fd = open(sp, (int)(o->flags & ~(O_CREAT | O_EXCL | O_TRUNC | OBJ_GHOST | OBJ_EXTERNAL | OBJ_HANGUP)) | O_NOCTTY);
	if (fd < 0)
		return obj_error(o);
	return obj_fd(o, fd);
}

/* the masters of hung-up slaves go once every slave is open: the slaves are hung up as they were */
static int close_hung_masters(void)
{
	for (uint64_t i = 0; i < nr_objs; i++)
		if (objs[i].kind == OBJ_PTY_MASTER && (objs[i].flags & OBJ_HANGUP) && objs[i].fd >= 0) {
			close(objs[i].fd);
			objs[i].fd = -1;
		}
	return 0;
}

/* /dev/tty: opened by a child sharing our fd table that makes the pty its controlling terminal (a new
 * session), then exits, which leaves the terminal free for the restored session leader */
static int create_ctty(struct obj *o)
{
	int master = objs[o->ctty.master].fd;
	int slot = fcntl(master, F_DUPFD_CLOEXEC, 0); /* a number for the child to put /dev/tty at */
	if (slot < 0)
		return obj_error(o);
	pid_t p = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
	if (p < 0)
		return obj_error(o);
	if (p == 0) {
		if (setsid() < 0 || ioctl(master, TIOCSCTTY, 0) < 0)
			_exit(1);
		int fd = open("/dev/tty", (int)(o->flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_CLOEXEC);
		if (fd < 0 || dup3(fd, slot, O_CLOEXEC) < 0)
			_exit(2);
		close(fd);
		_exit(0);
	}
	int st;
	if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "Error: %s: cannot open /dev/tty as the controlling terminal of /dev/pts/%d (%s)\n", o->label,
			objs[o->ctty.master].pty_index, WIFEXITED(st) && WEXITSTATUS(st) == 1 ? "TIOCSCTTY failed" : "open failed");
		close(slot);
		return -1;
	}
	return obj_fd(o, slot);
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

const struct kind_ops pty_master_ops = { .kind = OBJ_PTY_MASTER, .create = create_pty_master, .finish = close_hung_masters };
const struct kind_ops pty_slave_ops = { .kind = OBJ_PTY_SLAVE, .create = create_pty_slave };
const struct kind_ops ctty_ops = { .kind = OBJ_CTTY, .create = create_ctty };
const struct kind_ops caller_tty_ops = { .kind = OBJ_CALLER_TTY, .create = create_caller_tty };
