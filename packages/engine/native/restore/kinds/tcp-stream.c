/* A TCP connection rebuilt with TCP_REPAIR, the steps and adjustments of CRIU's libsoccr_restore (see
 * tcp-stream.h for how the inet kind uses it). The socket is bound and "connected" in repair mode (no
 * packet), its sequence numbers, negotiated options, timestamp clock and window set, its receive queue
 * refilled, the sent-but-unacknowledged part of its send queue put back as sent and the unsent part sent
 * afresh (the network lock holds it back). Half-closed states get their FINs: ours with shutdown(), the
 * peer's as a forged packet from the peer (a raw socket, SOCCR_MARK so the lock lets it through). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp-stream.h"

/* which FINs a state has seen (libsoccr's masks) */
#define F(s) (1u << (s))
#define SNDQ_FIRST_FIN (F(TCP_FIN_WAIT1) | F(TCP_FIN_WAIT2) | F(TCP_CLOSING))
#define SNDQ_SECOND_FIN (F(TCP_LAST_ACK) | F(TCP_CLOSE))
#define SNDQ_FIN_ACKED (F(TCP_FIN_WAIT2) | F(TCP_CLOSE))
#define RCVQ_FIRST_FIN (F(TCP_CLOSE_WAIT) | F(TCP_LAST_ACK) | F(TCP_CLOSE))
#define RCVQ_SECOND_FIN (F(TCP_CLOSING))
#define RCVQ_FIN_ACKED (F(TCP_CLOSE))

static struct repaired { int fd, reuseaddr; } *repaired;
static size_t nr_repaired;

/* "a port N" (IPv6: "[a] port N") in buf, INET6_ADDRSTRLEN + 16 bytes: the ends messages name */
static const char *end_text(int family, const void *addr, unsigned port, char *buf)
{
	char a[INET6_ADDRSTRLEN] = "?";
	int e = errno;  /* the failure's, for fail() */
	inet_ntop(family, addr, a, sizeof(a));
	snprintf(buf, INET6_ADDRSTRLEN + 16, family == AF_INET6 ? "[%s] port %u" : "%s port %u", a, port);
	errno = e;
	return buf;
}

static int fail(const char *label, const char *what)
{
	fprintf(stderr, "Error: %s: %s: %s\n", label, what, strerror(errno));
	return -1;
}

static int repair(int fd, int on)
{
	return setsockopt(fd, SOL_TCP, TCP_REPAIR, &on, sizeof(on));
}

static int set_queue(int fd, int q)
{
	return setsockopt(fd, SOL_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
}

static socklen_t sockaddr_of(int family, const uint8_t *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		memcpy(&a->sin_addr, addr, 4);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	memcpy(&a->sin6_addr, addr, 16);
	return sizeof(*a);
}

/* all of len bytes; a queue the kernel cannot take in one piece is sent in smaller ones (a repaired
 * receive queue is one linear skb per call) */
static int send_all(int fd, const char *buf, uint32_t len)
{
	uint32_t chunk = len;
	while (len) {
		/* MSG_NOSIGNAL: the unsent part goes out live; a peer that resets it (no lock held the packets back)
		 * is an error of this socket, not a SIGPIPE that kills the helper */
		ssize_t r = send(fd, buf, len < chunk ? len : chunk, MSG_NOSIGNAL);
		if (r <= 0) {
			if (chunk > 1024 && r < 0 && errno != EPIPE && errno != ECONNRESET) {
				chunk >>= 1;
				continue;
			}
			if (r == 0)
				errno = EIO;
			return -1;
		}
		buf += r;
		len -= (uint32_t)r;
	}
	return 0;
}

static uint32_t sum16(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* a bare TCP segment from the peer to us (libsoccr's send_fin): seq, ack and flags as given */
static int forge_from_peer(const struct tcp_stream *ts, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t window)
{
	int family = ts->family;
	const uint8_t *src = ts->dst, *dst = ts->src; /* the packet's: peer -> us */
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (family == AF_INET6 && !memcmp(ts->dst, mapped, 12)) {
		family = AF_INET;
		src = ts->dst + 12;
		dst = ts->src + 12;
	}
	struct tcphdr th;
	memset(&th, 0, sizeof(th));
	th.source = htons(ts->dport);
	th.dest = htons(ts->sport);
	th.seq = htonl(seq);
	th.ack_seq = htonl(ack);
	th.doff = 5;
	th.fin = !!(flags & TH_FIN);
	th.ack = !!(flags & TH_ACK);
	th.window = htons((uint16_t)window);
	uint8_t pkt[sizeof(struct ip6_hdr) + sizeof(th)];
	size_t iplen;
	uint32_t sum = IPPROTO_TCP + sizeof(th);
	if (family == AF_INET) {
		struct iphdr ip;
		memset(&ip, 0, sizeof(ip));
		ip.version = 4;
		ip.ihl = 5;
		ip.tot_len = htons(sizeof(ip) + sizeof(th));
		ip.id = htons(242);
		ip.ttl = 64;
		ip.protocol = IPPROTO_TCP;
		memcpy(&ip.saddr, src, 4);
		memcpy(&ip.daddr, dst, 4);
		sum = sum16(src, 4, sum16(dst, 4, sum));
		iplen = sizeof(ip);
		memcpy(pkt, &ip, iplen);
	} else {
		struct ip6_hdr ip;
		memset(&ip, 0, sizeof(ip));
		ip.ip6_flow = htonl(6u << 28);
		ip.ip6_plen = htons(sizeof(th));
		ip.ip6_nxt = IPPROTO_TCP;
		ip.ip6_hlim = 64;
		memcpy(&ip.ip6_src, src, 16);
		memcpy(&ip.ip6_dst, dst, 16);
		sum = sum16(src, 16, sum16(dst, 16, sum));
		iplen = sizeof(ip);
		memcpy(pkt, &ip, iplen);
	}
	th.check = fold(sum16(&th, sizeof(th), sum));
	memcpy(pkt + iplen, &th, sizeof(th));

	/* IPPROTO_RAW: we write the IP header (IP_HDRINCL / IPV6_HDRINCL implied) */
	int sk = socket(family, SOCK_RAW, IPPROTO_RAW), mark = SOCCR_MARK, ret = -1;
	if (sk < 0)
		return -1;
	struct sockaddr_storage to;
	socklen_t tolen = sockaddr_of(family, dst, 0, &to);
	if (setsockopt(sk, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0 &&
	    sendto(sk, pkt, iplen + sizeof(th), 0, (struct sockaddr *)&to, tolen) == (ssize_t)(iplen + sizeof(th)))
		ret = 0;
	int e = errno;
	close(sk);
	errno = e;
	return ret;
}

/* our FIN into the send queue: as sent (already acknowledged) when acked, else queued to be sent */
static int fin_in_sndq(int fd, int acked)
{
	if (acked && set_queue(fd, TCP_SEND_QUEUE) < 0)
		return -1;
	int ret = shutdown(fd, SHUT_WR);
	if (acked && set_queue(fd, TCP_NO_QUEUE) < 0)
		return -1;
	return ret;
}

int tcp_stream_restore(int fd, const struct tcp_stream *ts, const char *label)
{
	uint32_t mstate = F(ts->state), inq_seq = ts->inq_seq, outq_seq = ts->outq_seq;
	int one = 1;
	if (ts->state == TCP_LISTEN || ts->state >= 32 || ts->outq_len < ts->unsq_len) {
		errno = EINVAL;
		return fail(label, "not a connection state tcp-stream can rebuild");
	}
	/* queues of any size go in without blocking (the caller sets the dumped sizes afterwards) */
	int maxbuf = INT_MAX / 2;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &maxbuf, sizeof(maxbuf)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &maxbuf, sizeof(maxbuf)) < 0)
		return fail(label, "socket buffers");
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return fail(label, "O_NONBLOCK");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return fail(label, "SO_REUSEADDR");
	if (repair(fd, 1) < 0)
		return fail(label, "TCP_REPAIR");
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(ts->family, ts->src, ts->sport, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		char what[INET6_ADDRSTRLEN + 32];
		snprintf(what, sizeof(what), "bind to %s", end_text(ts->family, ts->src, ts->sport, (char[INET6_ADDRSTRLEN + 16]){0}));
		return fail(label, what);
	}
	if (mstate & (RCVQ_FIRST_FIN | RCVQ_SECOND_FIN))
		inq_seq--; /* the peer's FIN comes as a packet, below */
	if (mstate & (SNDQ_FIRST_FIN | SNDQ_SECOND_FIN))
		outq_seq--; /* ours by shutdown() */
	uint32_t seq = inq_seq - ts->inq_len;
	if (set_queue(fd, TCP_RECV_QUEUE) < 0 || setsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq)) < 0)
		return fail(label, "receive sequence");
	seq = outq_seq - ts->outq_len - (ts->state == TCP_SYN_SENT);
	if (set_queue(fd, TCP_SEND_QUEUE) < 0 || setsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq)) < 0)
		return fail(label, "send sequence");
	/* a SYN that was in flight is sent again (for real: the lock holds it) */
	if (ts->state == TCP_SYN_SENT && repair(fd, 0) < 0)
		return fail(label, "TCP_REPAIR off");
	sl = sockaddr_of(ts->family, ts->dst, ts->dport, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		/* EADDRNOTAVAIL: a connection with these two ends is live here */
		char what[2 * INET6_ADDRSTRLEN + 64];
		snprintf(what, sizeof(what), "connect %s to %s", end_text(ts->family, ts->src, ts->sport, (char[INET6_ADDRSTRLEN + 16]){0}),
			 end_text(ts->family, ts->dst, ts->dport, (char[INET6_ADDRSTRLEN + 16]){0}));
		return fail(label, what);
	}
	if (ts->state == TCP_SYN_SENT && repair(fd, 1) < 0)
		return fail(label, "TCP_REPAIR");
	struct tcp_repair_opt opts[4];
	int n = 0;
	if (ts->opt_mask & TCPI_OPT_SACK)
		opts[n++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (ts->opt_mask & TCPI_OPT_WSCALE)
		opts[n++] = (struct tcp_repair_opt){ TCPOPT_WINDOW, ts->snd_wscale + (ts->rcv_wscale << 16) };
	if (ts->opt_mask & TCPI_OPT_TIMESTAMPS)
		opts[n++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	opts[n++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, ts->mss_clamp };
	if (ts->state != TCP_SYN_SENT && setsockopt(fd, SOL_TCP, TCP_REPAIR_OPTIONS, opts, n * sizeof(opts[0])) < 0)
		return fail(label, "TCP_REPAIR_OPTIONS");
	if ((ts->opt_mask & TCPI_OPT_TIMESTAMPS) && setsockopt(fd, SOL_TCP, TCP_TIMESTAMP, &ts->timestamp, sizeof(ts->timestamp)) < 0)
		return fail(label, "TCP_TIMESTAMP");
	if (ts->inq_len && (set_queue(fd, TCP_RECV_QUEUE) < 0 || send_all(fd, ts->inq, ts->inq_len) < 0))
		return fail(label, "receive queue");
	uint32_t sent = ts->outq_len - ts->unsq_len;
	if (sent && (set_queue(fd, TCP_SEND_QUEUE) < 0 || send_all(fd, ts->outq, sent) < 0))
		return fail(label, "send queue (sent part)");
	if (ts->unsq_len) {
		/* never sent: sent now, as the program would (held back by the lock) */
		if (repair(fd, 0) < 0 || send_all(fd, (const char *)ts->outq + sent, ts->unsq_len) < 0 || repair(fd, 1) < 0)
			return fail(label, errno == EPIPE || errno == ECONNRESET ? "send queue (unsent part; is the network locked for it?)" : "send queue (unsent part)");
	}
	if (ts->has_window) {
		struct tcp_repair_window w = { ts->snd_wl1, ts->snd_wnd, ts->max_window, ts->rcv_wnd, ts->rcv_wup };
		if (mstate & (RCVQ_FIRST_FIN | RCVQ_SECOND_FIN)) {
			w.rcv_wup--;
			w.rcv_wnd++;
		}
		if (setsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) < 0)
			return fail(label, "TCP_REPAIR_WINDOW");
	}
	if ((mstate & SNDQ_FIRST_FIN) && fin_in_sndq(fd, !!(mstate & SNDQ_FIN_ACKED)) < 0)
		return fail(label, "our FIN");
	if ((mstate & (RCVQ_FIRST_FIN | RCVQ_SECOND_FIN)) &&
	    forge_from_peer(ts, inq_seq, outq_seq - ts->outq_len, TH_ACK | TH_FIN, ts->rcv_wnd) < 0)
		return fail(label, "the peer's FIN (raw packet)");
	if ((mstate & SNDQ_SECOND_FIN) && fin_in_sndq(fd, !!(mstate & SNDQ_FIN_ACKED)) < 0)
		return fail(label, "our FIN");
	if (mstate & RCVQ_FIN_ACKED)
		inq_seq++;
	if (mstate & SNDQ_FIN_ACKED) {
		outq_seq++;
		if (forge_from_peer(ts, inq_seq, outq_seq - ts->outq_len, TH_ACK, ts->rcv_wnd) < 0)
			return fail(label, "the peer's ACK of our FIN (raw packet)");
	}
	struct repaired *r = realloc(repaired, (nr_repaired + 1) * sizeof(*r));
	if (!r)
		return fail(label, "memory");
	repaired = r;
	repaired[nr_repaired++] = (struct repaired){ fd, ts->reuseaddr };
	return 0;
}

int tcp_streams_resume(void)
{
	int ret = 0;
	for (size_t i = 0; i < nr_repaired; i++) {
		int fd = repaired[i].fd;
		/* leaving repair mode resets SO_REUSEADDR: the dumped value after it */
		if (repair(fd, 0) < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &repaired[i].reuseaddr, sizeof(int)) < 0) {
			fprintf(stderr, "Error: TCP socket (fd %d): cannot leave repair mode: %s\n", fd, strerror(errno));
			ret = -1;
		}
	}
	free(repaired);
	repaired = NULL;
	nr_repaired = 0;
	return ret;
}
