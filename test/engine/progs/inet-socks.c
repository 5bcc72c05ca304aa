/* inet-socks: inet sockets of every kind ckpt dumps (run in a network namespace of its own, loopback only):
 * TCP listeners on 127.0.0.1, [::1] (v6only) and ::ffff:127.0.0.1 (v4-mapped), a bound and an unbound TCP
 * socket, connected and bound UDP, UDP-lite and UDP6 sockets, a shut-down UDP socket, an ICMP (ping) socket,
 * a raw ICMP socket with an ICMP filter, a BPF filter, and options (buffers, linger, priority, mark, rcvlowat,
 * timeouts, TOS, TTL, keepalive, nodelay, freebind, pktinfo, broadcast, O_NONBLOCK). Prints READY and the
 * listener's port; on SIGUSR1 checks that each socket is where and as it was, and that it works: connections
 * are accepted, a datagram goes from the connected UDP socket to its peer, a ping is answered.
 * `inet-socks hold PORT` only listens on 127.0.0.1:PORT (to make that address busy). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sock-check.h"
#include "sock-opts.h"

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

enum { L4, L6, LMAP, TBOUND, TUNB, U_SRV, U_CLI, U6, ULITE, USHUT, PING, RAW, UFILT, N };
static const char *names[N] = { "listen4", "listen6", "listen-mapped", "tcp-bound", "tcp-unbound", "udp-server",
	"udp-client", "udp6", "udplite", "udp-shut", "ping", "raw-icmp", "udp-filter" };
static int sk[N];
static struct sockaddr_storage addr[N];
static socklen_t alen[N];
static int rcvtimeo_ms; /* as the kernel keeps it (in jiffies): read back once set */

static void bind_to(int i, int family, const char *ip, int port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t l;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, ip, &a->sin_addr);
		l = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &a->sin6_addr);
		l = sizeof(*a);
	}
	if (bind(sk[i], (struct sockaddr *)&ss, l) < 0)
		die(names[i]);
}

static void remember(int i)
{
	alen[i] = sizeof(addr[i]);
	if (getsockname(sk[i], (struct sockaddr *)&addr[i], &alen[i]) < 0)
		die("getsockname");
}

static _Noreturn void hold(int port)
{
	sk[0] = socket(AF_INET, SOCK_STREAM, 0);
	bind_to(0, AF_INET, "127.0.0.1", port);
	if (listen(sk[0], 1) < 0)
		die("listen");
	printf("READY pid=%d\n", getpid());
	for (;;)
		pause();
}

static struct sock_filter bpf[] = { { BPF_RET | BPF_K, 0, 0, 0xffff } };

static void setup(void)
{
	int fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY);
	if (fd < 0 || write(fd, "0 0", 3) != 3)
		die("ping_group_range");
	close(fd);

	sk[L4] = socket(AF_INET, SOCK_STREAM, 0);
	on(sk[L4], SOL_SOCKET, SO_REUSEADDR, 1);
	on(sk[L4], SOL_SOCKET, SO_KEEPALIVE, 1);
	on(sk[L4], IPPROTO_TCP, TCP_NODELAY, 1);
	on(sk[L4], IPPROTO_TCP, TCP_KEEPIDLE, 321);
	bind_to(L4, AF_INET, "127.0.0.1", 0);
	if (listen(sk[L4], 7) < 0)
		die("listen4");

	sk[L6] = socket(AF_INET6, SOCK_STREAM, 0);
	on(sk[L6], IPPROTO_IPV6, IPV6_V6ONLY, 1);
	bind_to(L6, AF_INET6, "::1", 0);
	if (listen(sk[L6], 3) < 0)
		die("listen6");

	sk[LMAP] = socket(AF_INET6, SOCK_STREAM, 0);
	on(sk[LMAP], IPPROTO_IPV6, IPV6_V6ONLY, 0);
	bind_to(LMAP, AF_INET6, "::ffff:127.0.0.1", 0);
	if (listen(sk[LMAP], 5) < 0)
		die("listen-mapped");

	sk[TBOUND] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	on(sk[TBOUND], IPPROTO_IP, IP_FREEBIND, 1);
	bind_to(TBOUND, AF_INET, "127.0.0.2", 0);

	sk[TUNB] = socket(AF_INET, SOCK_STREAM, 0);
	struct linger lg = { 1, 17 };
	struct timeval tv = { 3, 250000 };
	setsockopt(sk[TUNB], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	setsockopt(sk[TUNB], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	on(sk[TUNB], SOL_SOCKET, SO_PRIORITY, 5);
	on(sk[TUNB], SOL_SOCKET, SO_MARK, 77);
	on(sk[TUNB], SOL_SOCKET, SO_RCVLOWAT, 9);
	on(sk[TUNB], SOL_SOCKET, SO_SNDBUF, 65536);
	socklen_t tl = sizeof(tv);
	getsockopt(sk[TUNB], SOL_SOCKET, SO_RCVTIMEO, &tv, &tl);
	rcvtimeo_ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);

	sk[U_SRV] = socket(AF_INET, SOCK_DGRAM, 0);
	on(sk[U_SRV], IPPROTO_IP, IP_PKTINFO, 1);
	on(sk[U_SRV], SOL_SOCKET, SO_RCVBUF, 100000);
	bind_to(U_SRV, AF_INET, "127.0.0.1", 0);
	remember(U_SRV);

	sk[U_CLI] = socket(AF_INET, SOCK_DGRAM, 0);
	on(sk[U_CLI], IPPROTO_IP, IP_TOS, IPTOS_THROUGHPUT);
	on(sk[U_CLI], IPPROTO_IP, IP_TTL, 33);
	on(sk[U_CLI], SOL_SOCKET, SO_BROADCAST, 1);
	bind_to(U_CLI, AF_INET, "127.0.0.1", 0);
	if (connect(sk[U_CLI], (struct sockaddr *)&addr[U_SRV], alen[U_SRV]) < 0)
		die("connect udp");

	sk[U6] = socket(AF_INET6, SOCK_DGRAM, 0);
	on(sk[U6], IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	bind_to(U6, AF_INET6, "::1", 0);

	sk[ULITE] = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
	bind_to(ULITE, AF_INET, "127.0.0.1", 0);

	sk[USHUT] = socket(AF_INET, SOCK_DGRAM, 0);
	bind_to(USHUT, AF_INET, "127.0.0.1", 0);
	if (connect(sk[USHUT], (struct sockaddr *)&addr[U_SRV], alen[U_SRV]) < 0 || shutdown(sk[USHUT], SHUT_RD) < 0)
		die("udp shutdown");

	sk[PING] = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	if (sk[PING] < 0)
		die("ping socket");

	sk[RAW] = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	struct icmp_filter f = { ~(1U << ICMP_ECHOREPLY) };
	if (sk[RAW] < 0 || setsockopt(sk[RAW], SOL_RAW, ICMP_FILTER, &f, sizeof(f)) < 0)
		die("raw icmp");

	sk[UFILT] = socket(AF_INET, SOCK_DGRAM, 0);
	struct sock_fprog prog = { 1, bpf };
	if (setsockopt(sk[UFILT], SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		die("bpf");

	for (int i = 0; i < N; i++) {
		if (sk[i] < 0)
			die(names[i]);
		remember(i);
	}
}

static void expect(int i, const char *what, int got, int want)
{
	if (got != want)
		fail("%s: %s is %d, not %d", names[i], what, got, want);
}

static void check_listener(int i)
{
	int c = socket(addr[i].ss_family, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&addr[i], alen[i]) < 0) {
		fail("%s: connect: %s", names[i], strerror(errno));
		close(c);
		return;
	}
	int a = accept(sk[i], NULL, NULL);
	if (a < 0)
		fail("%s: accept: %s", names[i], strerror(errno));
	close(a);
	close(c);
}

static void verify(void)
{
	for (int i = 0; i < N; i++) {
		struct sockaddr_storage ss;
		socklen_t l = sizeof(ss);
		if (getsockname(sk[i], (struct sockaddr *)&ss, &l) < 0 || l != alen[i] || memcmp(&ss, &addr[i], l))
			fail("%s: its address changed", names[i]);
	}
	check_listener(L4);
	check_listener(L6);
	check_listener(LMAP);
	expect(L4, "SO_REUSEADDR", get(sk[L4], SOL_SOCKET, SO_REUSEADDR), 1);
	expect(L6, "SO_REUSEADDR", get(sk[L6], SOL_SOCKET, SO_REUSEADDR), 0);
	expect(L6, "SO_REUSEPORT", get(sk[L6], SOL_SOCKET, SO_REUSEPORT), 0);
	expect(L4, "SO_KEEPALIVE", get(sk[L4], SOL_SOCKET, SO_KEEPALIVE), 1);
	expect(L4, "TCP_NODELAY", get(sk[L4], IPPROTO_TCP, TCP_NODELAY), 1);
	expect(L4, "TCP_KEEPIDLE", get(sk[L4], IPPROTO_TCP, TCP_KEEPIDLE), 321);
	expect(L6, "IPV6_V6ONLY", get(sk[L6], IPPROTO_IPV6, IPV6_V6ONLY), 1);
	expect(LMAP, "IPV6_V6ONLY", get(sk[LMAP], IPPROTO_IPV6, IPV6_V6ONLY), 0);
	expect(TBOUND, "IP_FREEBIND", get(sk[TBOUND], IPPROTO_IP, IP_FREEBIND), 1);
	expect(TBOUND, "O_NONBLOCK", !!(fcntl(sk[TBOUND], F_GETFL) & O_NONBLOCK), 1);
	expect(TUNB, "O_NONBLOCK", !!(fcntl(sk[TUNB], F_GETFL) & O_NONBLOCK), 0);
	struct linger lg;
	struct timeval tv;
	socklen_t l = sizeof(lg);
	getsockopt(sk[TUNB], SOL_SOCKET, SO_LINGER, &lg, &l);
	expect(TUNB, "SO_LINGER", lg.l_onoff * 1000 + lg.l_linger, 1017);
	l = sizeof(tv);
	getsockopt(sk[TUNB], SOL_SOCKET, SO_RCVTIMEO, &tv, &l);
	expect(TUNB, "SO_RCVTIMEO ms", (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000), rcvtimeo_ms);
	expect(TUNB, "SO_PRIORITY", get(sk[TUNB], SOL_SOCKET, SO_PRIORITY), 5);
	expect(TUNB, "SO_MARK", get(sk[TUNB], SOL_SOCKET, SO_MARK), 77);
	expect(TUNB, "SO_RCVLOWAT", get(sk[TUNB], SOL_SOCKET, SO_RCVLOWAT), 9);
	expect(TUNB, "SO_SNDBUF", get(sk[TUNB], SOL_SOCKET, SO_SNDBUF), 131072);
	expect(U_SRV, "SO_RCVBUF", get(sk[U_SRV], SOL_SOCKET, SO_RCVBUF), 200000);
	expect(U_SRV, "IP_PKTINFO", get(sk[U_SRV], IPPROTO_IP, IP_PKTINFO), 1);
	expect(U_CLI, "IP_TOS", get(sk[U_CLI], IPPROTO_IP, IP_TOS), IPTOS_THROUGHPUT);
	expect(U_CLI, "IP_TTL", get(sk[U_CLI], IPPROTO_IP, IP_TTL), 33);
	expect(U_CLI, "SO_BROADCAST", get(sk[U_CLI], SOL_SOCKET, SO_BROADCAST), 1);
	expect(U6, "IPV6_RECVPKTINFO", get(sk[U6], IPPROTO_IPV6, IPV6_RECVPKTINFO), 1);
	expect(ULITE, "SO_PROTOCOL", get(sk[ULITE], SOL_SOCKET, SO_PROTOCOL), IPPROTO_UDPLITE);

	/* the connected UDP socket still reaches its peer, which sees it at its own address */
	char buf[64];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	if (send(sk[U_CLI], "hello", 5, 0) != 5)
		fail("udp-client: send: %s", strerror(errno));
	else if (recvfrom(sk[U_SRV], buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) != 5 || memcmp(buf, "hello", 5))
		fail("udp-server: the datagram did not come");
	else if (fl != alen[U_CLI] || memcmp(&from, &addr[U_CLI], fl))
		fail("udp-server: the datagram came from elsewhere");
	/* shut down for reading: poll says so (readable, read hang-up), a blocking read returns 0 at once */
	struct pollfd p = { sk[USHUT], POLLIN | POLLRDHUP, 0 };
	poll(&p, 1, 0);
	expect(USHUT, "POLLIN|POLLRDHUP", p.revents & (POLLIN | POLLRDHUP), POLLIN | POLLRDHUP);
	if ((p.revents & POLLIN) && recv(sk[USHUT], buf, sizeof(buf), 0) != 0)
		fail("udp-shut: a read does not return 0");

	/* a ping is answered (echo request through the ping socket) */
	struct icmphdr ic = { .type = ICMP_ECHO };
	struct sockaddr_in lo = { .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
	if (sendto(sk[PING], &ic, sizeof(ic), 0, (struct sockaddr *)&lo, sizeof(lo)) < 0)
		fail("ping: send: %s", strerror(errno));
	else {
		struct pollfd pp = { sk[PING], POLLIN, 0 };
		if (poll(&pp, 1, 3000) != 1 || recv(sk[PING], buf, sizeof(buf), 0) < (ssize_t)sizeof(ic))
			fail("ping: no answer");
	}
	struct icmp_filter f;
	l = sizeof(f);
	if (getsockopt(sk[RAW], SOL_RAW, ICMP_FILTER, &f, &l) < 0 || f.data != ~(1U << ICMP_ECHOREPLY))
		fail("raw-icmp: ICMP_FILTER changed");
	l = 0;
	if (getsockopt(sk[UFILT], SOL_SOCKET, SO_GET_FILTER, NULL, &l) < 0 || l != 1)
		fail("udp-filter: its BPF filter is gone (%u instructions)", l);
	printf(failed ? "RESULT FAIL\n" : "RESULT PASS\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "hold"))
		hold(atoi(argv[2]));
	signal(SIGUSR1, on_usr1);
	setup();
	printf("READY pid=%d\n", getpid());
	printf("PORT %d\n", ntohs(((struct sockaddr_in *)&addr[L4])->sin_port));
	check_forever(verify);
}
