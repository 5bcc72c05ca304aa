/* unix sockets: pairs, bound and listening sockets, accepted connections, connections to named sockets;
 * once all exist their queues are refilled from their peers, then they are shut down as dumped */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kinds.h"

static void sk_opts(struct obj *o, int fd)
{
	int v;
	if (o->sk_sndbuf) { v = (int)o->sk_sndbuf / 2; setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)); }
	if (o->sk_rcvbuf) { v = (int)o->sk_rcvbuf / 2; setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)); }
	if (o->sk_passcred) { v = 1; setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, sizeof(v)); }
	if (o->sk_passsec) { v = 1; setsockopt(fd, SOL_SOCKET, SO_PASSSEC, &v, sizeof(v)); }
}

static socklen_t sk_addr(struct obj *o, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t n = o->sk_name.len < sizeof(sa->sun_path) ? o->sk_name.len : sizeof(sa->sun_path);
	memcpy(sa->sun_path, o->sk_name.p, n);
	socklen_t sl = offsetof(struct sockaddr_un, sun_path) + n;
	if (n && sa->sun_path[0] != 0 && sa->sun_path[n - 1] == 0)
		sl--;  /* path names are stored with their NUL */
	return sl;
}

static int open_unix(struct obj *o, char *err, size_t errn);

#define SCM_MAX_FD 253 /* the kernel's limit of files in one SCM_RIGHTS message */
struct scm_buf {
	struct iovec iov;
	_Alignas(struct cmsghdr) char ctl[CMSG_SPACE(SCM_MAX_FD * sizeof(int))];
};
/* o's address to connect or send to: a deleted socket's is its socket file through the O_PATH fd kept of it (its
 * name leads elsewhere or nowhere); a relative name is made absolute with the directory it was bound in */
static socklen_t sk_addr_to(struct obj *o, struct sockaddr_un *sa)
{
	if (o->sk_ghost >= 0) {
		memset(sa, 0, sizeof(*sa));
		sa->sun_family = AF_UNIX;
		int k = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d", o->sk_ghost);
		return offsetof(struct sockaddr_un, sun_path) + (socklen_t)k;
	}
	socklen_t sl = sk_addr(o, sa);
	size_t n = sl - offsetof(struct sockaddr_un, sun_path);
	if (!o->sk_name_dir || !o->sk_name_dir[0] || !sa->sun_path[0] || sa->sun_path[0] == '/')
		return sl;
	char abs[sizeof(sa->sun_path)];
	int k = snprintf(abs, sizeof(abs), "%s/%.*s", o->sk_name_dir, (int)n, sa->sun_path);
	if (k < 0 || (size_t)k >= sizeof(abs))
		return sl;  /* too long to be absolute: connect reports it */
	memcpy(sa->sun_path, abs, (size_t)k);
	return offsetof(struct sockaddr_un, sun_path) + (socklen_t)k;
}

static struct obj *creating;  /* the object create_unix was called for (errors are printed with its label) */

/* A path name's stale socket file (the dumped socket's) goes before o binds to it; anything else at the path
 * is not ours to remove: the restore fails naming the path (and o, when it is not the object being created) */
static int unlink_stale_socket(struct obj *o, const struct sockaddr_un *sa, char *err, size_t errn)
{
	char path[sizeof(sa->sun_path) + 1];
	struct stat st;
	if (!sa->sun_path[0])
		return 0;  /* abstract */
	snprintf(path, sizeof(path), "%.*s", (int)sizeof(sa->sun_path), sa->sun_path);
	if (lstat(path, &st) < 0)
		return 0;  /* nothing there; bind reports any other problem */
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errn, "%s%s%s exists and is not a socket", o == creating ? "" : o->label, o == creating ? "" : ": ", path);
		return -1;
	}
	unlink(path);
	return 0;
}

static int bind_here(struct obj *o, int fd, const char *what, char *err, size_t errn);

/* fd takes o's name (a stale socket file there goes first); on failure fd is closed and err says what failed */
static int bind_name(struct obj *o, int fd, const char *what, char *err, size_t errn)
{
	int cwd = -1;
	if (o->sk_name_dir && o->sk_name_dir[0]) {
		/* a relative name is bound in its directory, so that the socket's name stays relative */
		cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cwd < 0 || chdir(o->sk_name_dir) < 0) {
			snprintf(err, errn, "%s: directory %s: %s", what, o->sk_name_dir, strerror(errno));
			if (cwd >= 0)
				close(cwd);
			close(fd);
			return -1;
		}
	}
	int r = bind_here(o, fd, what, err, errn);
	if (cwd >= 0) {
		if (fchdir(cwd) < 0 && r == 0) {
			snprintf(err, errn, "%s: back from %s: %s", what, o->sk_name_dir, strerror(errno));
			close(fd);
			r = -1;
		}
		close(cwd);
	}
	return r;
}

/* the socket file's mode and owner as dumped (bind made it with the umask and our ids) */
static int sk_file_perms(struct obj *o, const char *path, const char *what, char *err, size_t errn)
{
	if (!o->sk_mode || (chown(path, (uid_t)o->sk_uid, (gid_t)o->sk_gid) == 0 && chmod(path, (mode_t)o->sk_mode) == 0))
		return 0;
	snprintf(err, errn, "%s: socket file %s: mode and owner: %s", what, path, strerror(errno));
	return -1;
}

/* the directories make_missing_dirs made (from the first one's path length), deepest first */
static void remove_made_dirs(const char *path, long first)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = strrchr(p, '/'); first && s && s - p >= first; s = strrchr(p, '/')) {
		*s = 0;
		rmdir(p);
	}
}

/* the missing directories on the way to path, made (0755, as CRIU makes them): the length of the first one's
 * path, 0 when none was missing, -1 on failure (then none is left) */
static long make_missing_dirs(char *path, char *err, size_t errn)
{
	long first = 0;
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		int r = mkdir(path, 0755), e = errno;
		if (r < 0 && e != EEXIST)
			snprintf(err, errn, "directory %s: %s", path, strerror(e));
		*s = '/';
		if (r == 0 && !first)
			first = s - path;
		if (r < 0 && e != EEXIST) {
			if (first)
				remove_made_dirs(path, first);
			return -1;
		}
	}
	return first;
}

#define GHOST_PARKED ".ckpt-sk-ghost"

/* A socket whose file was unlinked (CRIU's bind_on_deleted): bound to its name with whatever is there now moved
 * aside and any missing directory made, its file kept open O_PATH in o->sk_ghost (peers connect through
 * /proc/self/fd), then unlinked, the other file moved back and the directories removed */
static int bind_ghost(struct obj *o, int fd, const struct sockaddr_un *sa, socklen_t sl, const char *what, char *err, size_t errn)
{
	char path[sizeof(sa->sun_path) + 1], parked[sizeof(path) + sizeof(GHOST_PARKED)];
	struct stat st;
	int moved = 0, r = -1;
	snprintf(path, sizeof(path), "%.*s", (int)sizeof(sa->sun_path), sa->sun_path);
	long made = make_missing_dirs(path, err, errn);
	if (made < 0)
		return -1;
	if (lstat(path, &st) == 0) {
		snprintf(parked, sizeof(parked), "%s" GHOST_PARKED, path);
		int there = lstat(parked, &st) == 0;
		if (there || errno != ENOENT) {
			snprintf(err, errn, "%s: %s, where %s is moved while the deleted socket is bound, %s", what, parked, path,
				 there ? "exists" : strerror(errno));
			goto out;
		}
		if (rename(path, parked) < 0) {
			snprintf(err, errn, "%s: moving %s aside: %s", what, path, strerror(errno));
			goto out;
		}
		moved = 1;
	}
	if (bind(fd, (const struct sockaddr *)sa, sl) < 0) {
		snprintf(err, errn, "%s: %s", what, strerror(errno));
		goto back;
	}
	if (sk_file_perms(o, path, what, err, errn) == 0) {
		o->sk_ghost = move_high(open(path, O_PATH | O_CLOEXEC));
		if (o->sk_ghost < 0)
			snprintf(err, errn, "%s: socket file %s: %s", what, path, strerror(errno));
		else
			r = 0;
	}
	if (unlink(path) < 0 && r == 0) {
		snprintf(err, errn, "%s: unlinking %s: %s", what, path, strerror(errno));
		r = -1;
	}
back:
	if (moved && rename(parked, path) < 0) {
		snprintf(err, errn, "%s: moving %s back to %s: %s", what, parked, path, strerror(errno));
		r = -1;
	}
out:
	remove_made_dirs(path, made);
	return r;
}

static int bind_here(struct obj *o, int fd, const char *what, char *err, size_t errn)
{
	struct sockaddr_un sa;
	socklen_t sl = sk_addr(o, &sa);
	char path[sizeof(sa.sun_path) + 1];
	snprintf(path, sizeof(path), "%.*s", (int)sizeof(sa.sun_path), sa.sun_path);
	int r;
	if (sa.sun_path[0] && (o->flags & OBJ_SK_DELETED))
		r = bind_ghost(o, fd, &sa, sl, what, err, errn);
	else if ((r = unlink_stale_socket(o, &sa, err, errn)) == 0 && (r = bind(fd, (struct sockaddr *)&sa, sl)) < 0)
		snprintf(err, errn, "%s: %s", what, strerror(errno));
	else if (r == 0 && sa.sun_path[0])
		r = sk_file_perms(o, path, what, err, errn);
	if (r < 0)
		close(fd);
	return r;
}

/* acc as accepted from listener l, connected from a socket of cl's (cl NULL: a throwaway without a name). Without
 * l (the dumped listener was closed), from a listener bound to acc's name for this one connection, so that acc's
 * name and socket file (deleted or not) come out as dumped. *afd: acc's socket, *cfd: the connecting one */
static int connect_accept(struct obj *l, struct obj *acc, struct obj *cl, int *afd, int *cfd, char *err, size_t errn)
{
	struct sockaddr_un sa;
	int lfd, c, a = -1;
	if (l) {
		if (l->fd < 0 && open_unix(l, err, errn) < 0)
			return -1;
		lfd = l->fd;
	} else if ((lfd = socket(AF_UNIX, (int)acc->sk_type, 0)) < 0 ||
		   bind_name(acc, lfd, "bind a listener in place of the closed one", err, errn) < 0) {
		if (lfd < 0)
			snprintf(err, errn, "socket: %s", strerror(errno));
		return -1;
	} else if (listen(lfd, 1) < 0) {
		snprintf(err, errn, "listen in place of the closed listener: %s", strerror(errno));
		close(lfd);
		return -1;
	}
	c = socket(AF_UNIX, (int)acc->sk_type, 0);
	if (c < 0)
		snprintf(err, errn, "socket: %s", strerror(errno));
	else if (cl)
		sk_opts(cl, c);
	if (c >= 0 && cl && cl->sk_name.len && bind_name(cl, c, "bind the connecting peer", err, errn) < 0)
		c = -1;
	if (c >= 0) {
		socklen_t sl = sk_addr_to(l ? l : acc, &sa);
		if (connect(c, (struct sockaddr *)&sa, sl) < 0 || (a = accept(lfd, NULL, NULL)) < 0) {
			snprintf(err, errn, "connect to the listener and accept: %s", strerror(errno));
			close(c);
			c = -1;
		}
	}
	if (!l)
		close(lfd);
	if (c < 0)
		return -1;
	sk_opts(acc, a);
	*afd = move_high(a);
	*cfd = move_high(c);
	return 0;
}

/* A connected socket whose peer was closed: connected to a throwaway peer (a connection accepted from its
 * listener, or from one bound to its name when that is closed too, or the other end of a socketpair), which
 * sends its queue and is closed in finish_unix. */
static int open_peer_gone(struct obj *o, char *err, size_t errn)
{
	int sv[2];
	if (o->sk_listener != ~0ULL || (o->sk_name.len && o->sk_type != SOCK_DGRAM))
		return connect_accept(o->sk_listener != ~0ULL ? &objs[o->sk_listener] : NULL, o, NULL, &o->fd, &o->sk_gone, err, errn);
	if (socketpair(AF_UNIX, (int)o->sk_type, 0, sv) < 0) {
		snprintf(err, errn, "socketpair: %s", strerror(errno));
		return -1;
	}
	sk_opts(o, sv[0]);
	o->fd = move_high(sv[0]);
	o->sk_gone = move_high(sv[1]);
	return 0;
}

/* A listener's pending connections, connected in the order they waited (none is accepted) */
static int connect_pending(struct obj *l, char *err, size_t errn)
{
	struct sockaddr_un sa;
	socklen_t sl = sk_addr_to(l, &sa);
	for (uint64_t i = 0; i < l->nr_sk_icons; i++) {
		struct obj *c = &objs[l->sk_icons[i].obj];
		if (c->kind != OBJ_UNIX || c->fd >= 0) {
			snprintf(err, errn, "pending connection %s: not a socket to connect", c->label);
			return -1;
		}
		int fd = socket(AF_UNIX, (int)c->sk_type, 0);
		if (fd < 0) {
			snprintf(err, errn, "socket: %s", strerror(errno));
			return -1;
		}
		sk_opts(c, fd);
		if (c->sk_name.len && bind_name(c, fd, "bind a pending connection", err, errn) < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sl) < 0) {
			snprintf(err, errn, "pending connection %s: connect: %s", c->label, strerror(errno));
			close(fd);
			return -1;
		}
		c->fd = move_high(fd);
	}
	return 0;
}

/* Unix sockets: pairs (both ends in the tree) come from socketpair(); named listeners are bound and listen;
 * a socket connected to a named socket of the tree connects to it. */
static int open_unix(struct obj *o, char *err, size_t errn)
{
	struct obj *peer = o->sk_peer_obj != ~0ULL ? &objs[o->sk_peer_obj] : NULL;
	int type = (int)o->sk_type;
	enum { TCP_ESTABLISHED = 1, TCP_LISTEN = 10, TCP_CLOSE = 7 };
	struct sockaddr_un sa;
	if (o->flags & OBJ_PEER_GONE)
		return open_peer_gone(o, err, errn);
	/* a pending connection: connected by finish_unix with the listener's others, in their order, once every
	 * accepted connection is made (an accept now could take it) */
	if (peer && peer->kind == OBJ_UNIX && peer->sk_state == TCP_LISTEN && !(peer->flags & OBJ_EXTERNAL) &&
	    o->sk_state == TCP_ESTABLISHED && type != SOCK_DGRAM) {
		for (uint64_t i = 0; i < peer->nr_sk_icons; i++)
			if (&objs[peer->sk_icons[i].obj] == o)
				return peer->fd < 0 ? open_unix(peer, err, errn) : 0;
		snprintf(err, errn, "connected to listener %s but not among its pending connections", peer->label);
		return -1;
	}
	/* an accepted connection: connect the peer to the listener and accept (names come out right) */
	if (peer && peer->fd < 0 && o->sk_listener == ~0ULL && peer->sk_listener != ~0ULL && peer->sk_peer_obj == (uint64_t)(o - objs))
		return open_unix(peer, err, errn);
	if (peer && peer->fd < 0 && o->sk_listener != ~0ULL)
		return connect_accept(&objs[o->sk_listener], o, peer, &o->fd, &peer->fd, err, errn);
	/* connected stream sockets, a name on either but no listener of it in the images (closed): the named one is
	 * accepted from a listener bound to its name for this connection */
	if (peer && peer->fd < 0 && peer->kind == OBJ_UNIX && type != SOCK_DGRAM && o->sk_state == TCP_ESTABLISHED &&
	    peer->sk_peer_obj == (uint64_t)(o - objs) && (o->sk_name.len || peer->sk_name.len))
		return o->sk_name.len ? connect_accept(NULL, o, peer, &o->fd, &peer->fd, err, errn) :
					connect_accept(NULL, peer, o, &peer->fd, &o->fd, err, errn);
	if (peer && peer->fd < 0 && peer->kind == OBJ_UNIX && !(peer->sk_state == TCP_LISTEN) &&
	    (peer->sk_peer_obj == (uint64_t)(o - objs)) && !o->sk_name.len && !peer->sk_name.len) {
		int sv[2];
		if (socketpair(AF_UNIX, type, 0, sv) < 0) {
			snprintf(err, errn, "socketpair: %s", strerror(errno));
			return -1;
		}
		o->fd = move_high(sv[0]);
		peer->fd = move_high(sv[1]);
		sk_opts(o, o->fd);
		sk_opts(peer, peer->fd);
		return 0;
	}
	int fd = socket(AF_UNIX, type, 0);
	if (fd < 0) {
		snprintf(err, errn, "socket: %s", strerror(errno));
		return -1;
	}
	sk_opts(o, fd);
	if (o->sk_name.len && bind_name(o, fd, "bind", err, errn) < 0)
		return -1;
	if (o->sk_state == TCP_LISTEN && listen(fd, (int)o->sk_backlog) < 0) {
		snprintf(err, errn, "listen: %s", strerror(errno));
		close(fd);
		return -1;
	}
	o->fd = move_high(fd);
	if (peer && peer->sk_name.len && (o->sk_state == TCP_ESTABLISHED || type == SOCK_DGRAM)) {
		if (peer->fd < 0 && !(peer->flags & OBJ_EXTERNAL) && open_unix(peer, err, errn) < 0)
			return -1;
		socklen_t sl = sk_addr_to(peer, &sa);
		if (connect(o->fd, (struct sockaddr *)&sa, sl) < 0) {
			snprintf(err, errn, "connect to %s: %s", sa.sun_path[0] ? sa.sun_path : "@abstract", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int create_unix(struct obj *o)
{
	char err[300];
	if (o->fd >= 0 || (o->flags & OBJ_EXTERNAL))
		return 0;  /* created with its peer / provided by the user */
	creating = o;
	if (open_unix(o, err, sizeof(err)) < 0) {
		fprintf(stderr, "Error: %s: %s\n", o->label, err);
		return -1;
	}
	return 0;
}

/* the message of packet k of o's queue: its data, and the files in flight with it as SCM_RIGHTS */
static int scm_rights(struct obj *o, uint64_t k, struct msghdr *mh, struct scm_buf *scm)
{
	int nfd = 0;
	memset(mh, 0, sizeof(*mh));
	scm->iov.iov_base = (void *)o->queue[k].p;
	scm->iov.iov_len = o->queue[k].len;
	mh->msg_iov = &scm->iov;
	mh->msg_iovlen = 1;
	for (uint64_t i = 0; i < o->nr_queue_fds; i++) {
		if (o->queue_fds[i].pkt != k)
			continue;
		struct obj *f = &objs[o->queue_fds[i].obj];
		if (nfd == SCM_MAX_FD || f->fd < 0) {
			fprintf(stderr, "Error: %s: cannot send %s with its queue: %s\n", o->label, f->label,
				f->fd < 0 ? "it was not created" : "too many files in one message");
			return -1;
		}
		memcpy(CMSG_DATA((struct cmsghdr *)scm->ctl) + nfd * sizeof(int), &f->fd, sizeof(int));
		nfd++;
	}
	if (nfd) {
		struct cmsghdr *c = (struct cmsghdr *)scm->ctl;
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfd * sizeof(int));
		mh->msg_control = scm->ctl;
		mh->msg_controllen = CMSG_SPACE(nfd * sizeof(int));
	}
	return 0;
}

/* queued socket data: sent from the peer, or from a throwaway socket when the peer is gone */
static int requeue_socket_data(void)
{
	struct scm_buf scm;
	for (uint64_t i = 0; i < nr_objs; i++) {
		struct obj *o = &objs[i];
		if (o->kind != OBJ_UNIX || !o->nr_queue)
			continue;
		int from = -1, tmp = -1;
		if (o->sk_peer_obj != ~0ULL && objs[o->sk_peer_obj].fd >= 0 && o->sk_type != SOCK_DGRAM)
			from = objs[o->sk_peer_obj].fd;
		else if (o->sk_gone >= 0)
			from = o->sk_gone;
		for (uint64_t k = 0; k < o->nr_queue; k++) {
			ssize_t n;
			struct msghdr mh;
			if (scm_rights(o, k, &mh, &scm) < 0)
				return -1;
			if (from >= 0)
				n = sendmsg(from, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
			else {
				/* datagram: address the socket by its name, or through its peer's connection */
				if (tmp < 0)
					tmp = socket(AF_UNIX, o->sk_type, 0);
				struct sockaddr_un sa;
				socklen_t sl = sk_addr_to(o, &sa);
				if (o->sk_name.len) {
					mh.msg_name = &sa;
					mh.msg_namelen = sl;
					n = sendmsg(tmp, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
				} else if (o->sk_peer_obj != ~0ULL && objs[o->sk_peer_obj].fd >= 0)
					n = sendmsg(objs[o->sk_peer_obj].fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
				else {
					errno = ENOTCONN;
					n = -1;
				}
			}
			if (n != (ssize_t)o->queue[k].len) {
				fprintf(stderr, "Error: %s: cannot requeue %zu bytes: %s\n", o->label, o->queue[k].len, strerror(errno));
				return -1;
			}
		}
		if (tmp >= 0)
			close(tmp);
	}
	for (uint64_t i = 0; i < nr_objs; i++)
		if (objs[i].kind == OBJ_UNIX && objs[i].sk_gone >= 0) {
			close(objs[i].sk_gone);  /* the peer goes, as it went before the dump */
			objs[i].sk_gone = -1;
		}
	return 0;
}

/* sockets' shutdown and non-blocking state, last (after the queues are filled) */
static void finish_sockets(void)
{
	for (uint64_t i = 0; i < nr_objs; i++) {
		struct obj *o = &objs[i];
		if (o->kind != OBJ_UNIX || o->fd < 0)
			continue;
		if (o->sk_shutdown == 1 || o->sk_shutdown == 2 || o->sk_shutdown == 3)
			shutdown(o->fd, (int)o->sk_shutdown - 1);
		int fl = fcntl(o->fd, F_GETFL);
		fcntl(o->fd, F_SETFL, (fl & ~O_NONBLOCK) | (o->flags & O_NONBLOCK));
	}
}

/* once every socket exists: pending connections, their queues, then their shutdown and non-blocking state */
static int finish_unix(void)
{
	char err[300];
	for (uint64_t i = 0; i < nr_objs; i++)
		if (objs[i].kind == OBJ_UNIX && objs[i].nr_sk_icons && connect_pending(&objs[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "Error: %s: %s\n", objs[i].label, err);
			return -1;
		}
	if (requeue_socket_data() < 0)
		return -1;
	finish_sockets();
	for (uint64_t i = 0; i < nr_objs; i++)
		if (objs[i].kind == OBJ_UNIX && objs[i].sk_ghost >= 0) {
			close(objs[i].sk_ghost);  /* every connection to the deleted socket is made */
			objs[i].sk_ghost = -1;
		}
	return 0;
}

const struct kind_ops unix_ops = { .kind = OBJ_UNIX, .create = create_unix, .finish = finish_unix };
