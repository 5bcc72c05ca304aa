/* One module per kind of object (plan.h's OBJ_*), each behind a kind_ops table registered in kinds.c.
 * The controller creates every object once, at a high fd, before the tasks are forked; each task then
 * dup2()s the objects it uses to its own fd numbers (tasks.c). */
#ifndef CKPT_RESTORE_KINDS_H
#define CKPT_RESTORE_KINDS_H
#include "../helper.h"

struct kind_ops {
	int kind;                       /* OBJ_* */
	int (*prepare)(void);           /* before any object is created: what the kind's objects share */
	int (*create)(struct obj *o);   /* the object, its fd in o->fd (obj_fd) */
	int (*finish)(void);            /* once every object exists */
};                                  /* each returns 0, or -1 once the error is printed */

extern const struct kind_ops reg_ops, pipe_ops, unix_ops, fifo_ops, inherit_ops, eventfd_ops, timerfd_ops, signalfd_ops,
	epoll_ops, inotify_ops, fanotify_ops, memfd_ops, caller_tty_ops, pty_master_ops, pty_slave_ops, ctty_ops, pidfd_ops, inet_ops,
	netlink_ops, packet_ops;

/* kinds.c */
int obj_fd(struct obj *o, int fd);  /* o's fd is fd, moved out of the way of the dumped fd numbers */
int obj_error(struct obj *o);       /* "Error: <label>: <errno>", -1 */
int sys_error(void);

/* sk-opts.c: one socket option; a netlink or packet socket's skOpts; its O_NONBLOCK as dumped */
int set_sockopt(struct obj *o, int fd, uint64_t level, uint64_t name, const struct buf *val, const char *what);
int set_sk_opts(struct obj *o, int fd);
int set_sk_flags(struct obj *o, int fd);

/* reg.c */
int open_obj_path(struct obj *o, int extra);  /* REG/FIFO: o->path with the dumped flags (never creating) */

#endif
