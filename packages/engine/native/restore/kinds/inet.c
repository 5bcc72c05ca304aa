/* inet sockets (IPv4, IPv6): created, given their options, bound, listening or connected as dumped; once every
 * socket exists, SO_REUSEADDR/SO_REUSEPORT go back to what was dumped (each socket was bound with both set,
 * so that sockets sharing a port can all be bound again, as CRIU does). An established TCP connection
 * (--tcp-established) is rebuilt in repair mode by tcp_stream_restore instead of bind/connect, its options
 * set after it; it leaves repair mode once the whole tree is restored (tcp_streams_resume). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kinds.h"
#include "tcp-stream.h"

enum { STEP_BEFORE_BIND = 0, STEP_AFTER = 1, STEP_LATE = 2 };

/* "127.0.0.1:80" / "[::1]:80" */
static void addr_text(struct obj *o, const struct buf *a, uint64_t port, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int fam = (int)o->in_family;
	if (a->len >= (fam == AF_INET6 ? 16u : 4u))
		inet_ntop(fam, a->p, ip, sizeof(ip));
	snprintf(out, n, fam == AF_INET6 ? "[%s]:%lu" : "%s:%lu", ip, (unsigned long)port);
}

static socklen_t sockaddr_of(struct obj *o, const struct buf *a, uint64_t port, unsigned scope, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (o->in_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		memcpy(&s6->sin6_addr, a->p, a->len < 16 ? a->len : 16);
		s6->sin6_scope_id = scope;
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	memcpy(&s4->sin_addr, a->p, a->len < 4 ? a->len : 4);
	return sizeof(*s4);
}

/* the options of one step */
static int set_opts(struct obj *o, int fd, uint64_t step)
{
	for (uint64_t i = 0; i < o->nr_in_opts; i++) {
		struct sockopt *so = &o->in_opts[i];
		if (so->step == step && set_sockopt(o, fd, so->level, so->name, &so->val, so->what) < 0)
			return -1;
	}
	return 0;
}

/* the plan's connection (inTcp: restoreFields' 17 numbers, in struct tcp_stream's order) into ts */
static int tcp_stream_of(struct obj *o, struct tcp_stream *ts)
{
	const uint64_t *v = o->in_tcp;
	if (o->nr_in_tcp != 17 || v[1] != o->in_inq.len || v[3] != o->in_outq.len) {
		fprintf(stderr, "Error: %s: inconsistent TCP connection in the plan\n", o->label);
		return -1;
	}
	memset(ts, 0, sizeof(*ts));
	ts->family = (int)o->in_family;
	memcpy(ts->src, o->in_src.p, o->in_src.len < 16 ? o->in_src.len : 16);
	memcpy(ts->dst, o->in_dst.p, o->in_dst.len < 16 ? o->in_dst.len : 16);
	ts->sport = (uint16_t)o->in_src_port;
	ts->dport = (uint16_t)o->in_dst_port;
	ts->state = (uint32_t)v[0];
	ts->inq_len = (uint32_t)v[1];
	ts->inq_seq = (uint32_t)v[2];
	ts->outq_len = (uint32_t)v[3];
	ts->outq_seq = (uint32_t)v[4];
	ts->unsq_len = (uint32_t)v[5];
	ts->opt_mask = (uint32_t)v[6];
	ts->snd_wscale = (uint32_t)v[7];
	ts->rcv_wscale = (uint32_t)v[8];
	ts->mss_clamp = (uint32_t)v[9];
	ts->timestamp = (uint32_t)v[10];
	ts->has_window = v[11] != 0;
	ts->snd_wl1 = (uint32_t)v[12];
	ts->snd_wnd = (uint32_t)v[13];
	ts->max_window = (uint32_t)v[14];
	ts->rcv_wnd = (uint32_t)v[15];
	ts->rcv_wup = (uint32_t)v[16];
	ts->reuseaddr = (int)o->in_tcp_reuseaddr;
	ts->inq = o->in_inq.p;
	ts->outq = o->in_outq.p;
	return 0;
}

static int open_inet(struct obj *o, int fd)
{
	struct sockaddr_storage ss;
	char text[80];
	if (set_opts(o, fd, STEP_BEFORE_BIND) < 0)
		return -1;
	if (o->nr_in_tcp) {
		struct tcp_stream ts;
		if (tcp_stream_of(o, &ts) < 0 || tcp_stream_restore(fd, &ts, o->label) < 0)
			return -1;
	}
	if (o->in_bind) {
		unsigned scope = 0;
		if (o->in_ifname && o->in_ifname[0] && !(scope = if_nametoindex(o->in_ifname))) {
			fprintf(stderr, "Error: %s: no network device %s to bind to\n", o->label, o->in_ifname);
			return -1;
		}
		socklen_t sl = sockaddr_of(o, &o->in_src, o->in_src_port, scope, &ss);
		if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
			addr_text(o, &o->in_src, o->in_src_port, text, sizeof(text));
			fprintf(stderr, "Error: %s: bind to %s: %s\n", o->label, text, strerror(errno));
			return -1;
		}
	}
	if (o->in_listen && listen(fd, (int)o->in_backlog) < 0) {
		addr_text(o, &o->in_src, o->in_src_port, text, sizeof(text));
		fprintf(stderr, "Error: %s: listen on %s: %s\n", o->label, text, strerror(errno));
		return -1;
	}
	if (o->in_connect) {
		socklen_t sl = sockaddr_of(o, &o->in_dst, o->in_dst_port, 0, &ss);
		if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
			addr_text(o, &o->in_dst, o->in_dst_port, text, sizeof(text));
			fprintf(stderr, "Error: %s: connect to %s: %s\n", o->label, text, strerror(errno));
			return -1;
		}
	}
	if (set_opts(o, fd, STEP_AFTER) < 0)
		return -1;
	/* 1 RD, 2 WR, 3 both; a socket never connected says ENOTCONN but is shut down all the same */
	if (o->in_shutdown >= 1 && o->in_shutdown <= 3 && shutdown(fd, (int)o->in_shutdown - 1) < 0 && errno != ENOTCONN) {
		fprintf(stderr, "Error: %s: shutdown: %s\n", o->label, strerror(errno));
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, (fl & ~O_NONBLOCK) | (int)(o->flags & O_NONBLOCK)) < 0)
		return obj_error(o);
	return 0;
}

static int create_inet(struct obj *o)
{
	int fd = socket((int)o->in_family, (int)o->in_type | SOCK_CLOEXEC, (int)o->in_proto);
	/* at its final number first: tcp_streams_resume finds a repaired socket by it */
	if (fd >= 0)
		fd = move_high(fd);
	if (fd < 0) {
		fprintf(stderr, "Error: %s: socket(%lu, %lu, %lu): %s\n", o->label, (unsigned long)o->in_family,
			(unsigned long)o->in_type, (unsigned long)o->in_proto, strerror(errno));
		return -1;
	}
	if (open_inet(o, fd) < 0) {
		close(fd);
		return -1;
	}
	return obj_fd(o, fd);
}

static int finish_inet(void)
{
	for (uint64_t i = 0; i < nr_objs; i++)
		if (objs[i].kind == OBJ_INET && objs[i].fd >= 0 && set_opts(&objs[i], objs[i].fd, STEP_LATE) < 0)
			return -1;
	return 0;
}

const struct kind_ops inet_ops = { .kind = OBJ_INET, .create = create_inet, .finish = finish_inet };
