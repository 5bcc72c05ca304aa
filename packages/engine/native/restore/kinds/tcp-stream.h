/* A TCP connection rebuilt from its tcp-stream image (CRIU's libsoccr_restore, done with TCP_REPAIR).
 *
 * For the inet kind (kinds/inet.c), per connected TCP socket of the plan:
 *     int fd = socket(family, SOCK_STREAM, IPPROTO_TCP);       (IPV6_V6ONLY first when dumped)
 *     tcp_stream_restore(fd, &ts, label)                         bind, sequence numbers, connect, options,
 *                                                                queues, window, FIN states; still in repair
 *     ... the file flags and socket options of the image (buffer sizes last: this left them at their maximum)
 * and once every task of the tree is restored, with the network still locked, the helper calls
 *     tcp_streams_resume()                                       every such socket leaves repair mode
 * A socket closed before tcp_streams_resume (a failed restore) vanishes without a packet: it is in repair.
 * Needs the network locked for the connection (ckpt's netlock, or CRIU's rules) until tcp_streams_resume:
 * the fake packets of the FIN states carry SOCCR_MARK, which the lock lets through. */
#ifndef CKPT_TCP_STREAM_H
#define CKPT_TCP_STREAM_H
#include <stdint.h>

#define SOCCR_MARK 0xC114 /* packets with this mark pass CRIU's (and ckpt's) network lock */

struct tcp_stream {
	int family;                    /* AF_INET or AF_INET6 */
	uint8_t src[16], dst[16];      /* our and the peer's address, network order (IPv4: the first 4 bytes) */
	uint16_t sport, dport;         /* host order */
	uint32_t state;                /* TCP_ESTABLISHED, ... as inetsk.img has it */
	uint32_t inq_len, inq_seq;     /* tcp_stream_entry's fields */
	uint32_t outq_len, outq_seq, unsq_len;
	uint32_t opt_mask, snd_wscale, rcv_wscale, mss_clamp, timestamp;
	int has_window;                /* snd_wl1 .. rcv_wup are in the image */
	uint32_t snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup;
	int reuseaddr;                 /* SO_REUSEADDR as dumped: set again when the socket leaves repair mode */
	const void *inq, *outq;        /* inq_len and outq_len bytes (the image's payload) */
};

/* 0, or -1 with "Error: <label>: <step>: <errno>" on stderr. fd: a new TCP socket of ts->family. */
int tcp_stream_restore(int fd, const struct tcp_stream *ts, const char *label);
/* every socket tcp_stream_restore rebuilt leaves repair mode and gets its SO_REUSEADDR back; 0 or -1 (reported) */
int tcp_streams_resume(void);

#endif
