/* netlink-packet: netlink and packet sockets (run in a network namespace of its own, loopback up): a netlink
 * route socket bound to a chosen port with a group, one bound by the kernel with another group, one connected to
 * the first, an unbound generic one with SO_PASSCRED and a receive buffer; a packet socket on lo with TPACKET_V2,
 * a reserve, aux data, orig dev, two memberships and an RX ring it has mapped, two in a fanout group (one with a
 * vnet header), a SOCK_DGRAM one with loss, and a SOCK_PACKET one bound to lo. Prints READY; on SIGUSR1 checks
 * that each socket is as it was and works: the kernel answers a route dump, the connected socket's message
 * arrives, a frame sent on lo lands in the mapped ring. `netlink-packet queued` leaves a netlink answer unread,
 * `netlink-packet closed` closes the ring's socket, keeping the mapping (both refused at dump). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sock-check.h"
#include "sock-opts.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#define PORT 0x7a11
#define FANOUT_ID 42
#define RING_BLOCK 4096
#define RING_FRAME 2048

enum { NL_BOUND, NL_AUTO, NL_CONN, NL_UNB, PK_RAW, PK_FAN1, PK_FAN2, PK_DGRAM, PK_SPKT, N };
static int sk[N];
static int lo;
static void *ring;
static uint32_t auto_port;
static int rcvbuf;

static int nl_socket(int proto, uint32_t port, uint32_t groups)
{
	int s = socket(AF_NETLINK, SOCK_RAW, proto);
	if (s < 0)
		die("netlink socket");
	if (port || groups) {
		struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = port, .nl_groups = groups };
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			die("netlink bind");
	}
	return s;
}

static struct sockaddr_nl nl_name(int s, int peer)
{
	struct sockaddr_nl a = { 0 };
	socklen_t l = sizeof(a);
	if ((peer ? getpeername : getsockname)(s, (struct sockaddr *)&a, &l) < 0)
		memset(&a, 0xff, sizeof(a));
	return a;
}

/* a route dump request to the kernel (port 0) */
static void ask_links(int s)
{
	struct { struct nlmsghdr h; struct rtgenmsg g; } req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 7 },
		.g = { .rtgen_family = AF_PACKET },
	};
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };
	if (sendto(s, &req, sizeof(req), 0, (struct sockaddr *)&k, sizeof(k)) < 0)
		die("RTM_GETLINK");
}

static int pk_socket(int type, int proto)
{
	int s = socket(AF_PACKET, type, htons(proto));
	if (s < 0)
		die("packet socket");
	return s;
}

static void pk_bind(int s, int ifindex, int proto)
{
	struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_protocol = htons(proto) };
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("packet bind");
}

static void setup(int queued, int closed)
{
	lo = if_nametoindex("lo");
	if (!lo)
		die("lo");
	sk[PK_RAW] = pk_socket(SOCK_RAW, ETH_P_ALL);
	pk_bind(sk[PK_RAW], lo, ETH_P_ALL);
	if (on(sk[PK_RAW], SOL_PACKET, PACKET_VERSION, TPACKET_V2) < 0 || on(sk[PK_RAW], SOL_PACKET, PACKET_RESERVE, 64) < 0 ||
	    on(sk[PK_RAW], SOL_PACKET, PACKET_AUXDATA, 1) < 0 || on(sk[PK_RAW], SOL_PACKET, PACKET_ORIGDEV, 1) < 0)
		die("packet options");
	struct packet_mreq promisc = { .mr_ifindex = lo, .mr_type = PACKET_MR_PROMISC };
	struct packet_mreq mc = { .mr_ifindex = lo, .mr_type = PACKET_MR_MULTICAST, .mr_alen = 6, .mr_address = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x42 } };
	if (setsockopt(sk[PK_RAW], SOL_PACKET, PACKET_ADD_MEMBERSHIP, &promisc, sizeof(promisc)) < 0 ||
	    setsockopt(sk[PK_RAW], SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mc, sizeof(mc)) < 0)
		die("packet memberships");
	struct tpacket_req req = { .tp_block_size = RING_BLOCK, .tp_block_nr = 2, .tp_frame_size = RING_FRAME, .tp_frame_nr = 4 };
	if (setsockopt(sk[PK_RAW], SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		die("PACKET_RX_RING");
	ring = mmap(NULL, 2 * RING_BLOCK, PROT_READ | PROT_WRITE, MAP_SHARED, sk[PK_RAW], 0);
	if (ring == MAP_FAILED)
		die("mmap of the ring");

	for (int i = PK_FAN1; i <= PK_FAN2; i++) {
		sk[i] = pk_socket(SOCK_RAW, ETH_P_IP);
		pk_bind(sk[i], lo, ETH_P_IP);
		if (on(sk[i], SOL_PACKET, PACKET_FANOUT, FANOUT_ID | (PACKET_FANOUT_CPU << 16)) < 0)
			die("PACKET_FANOUT");
	}
	sk[PK_DGRAM] = pk_socket(SOCK_DGRAM, ETH_P_IPV6);
	pk_bind(sk[PK_DGRAM], 0, ETH_P_IPV6);
	if (on(sk[PK_DGRAM], SOL_PACKET, PACKET_LOSS, 1) < 0 || on(sk[PK_FAN2], SOL_PACKET, PACKET_VNET_HDR, 1) < 0)
		die("packet dgram options");
	sk[PK_SPKT] = socket(AF_PACKET, SOCK_PACKET, htons(ETH_P_ALL));
	struct sockaddr sa = { .sa_family = AF_PACKET };
	strcpy(sa.sa_data, "lo");
	if (sk[PK_SPKT] < 0 || bind(sk[PK_SPKT], &sa, sizeof(sa)) < 0)
		die("SOCK_PACKET");
	/* after the packet sockets: their memberships change lo, which the link group hears of */
	sk[NL_BOUND] = nl_socket(NETLINK_ROUTE, PORT, RTMGRP_LINK);
	sk[NL_AUTO] = nl_socket(NETLINK_ROUTE, 0, RTMGRP_IPV4_IFADDR);
	auto_port = nl_name(sk[NL_AUTO], 0).nl_pid;
	sk[NL_CONN] = nl_socket(NETLINK_ROUTE, 0, 0);
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = PORT };
	if (connect(sk[NL_CONN], (struct sockaddr *)&to, sizeof(to)) < 0)
		die("netlink connect");
	sk[NL_UNB] = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, NETLINK_GENERIC);
	if (sk[NL_UNB] < 0 || on(sk[NL_UNB], SOL_SOCKET, SO_PASSCRED, 1) < 0 || on(sk[NL_UNB], SOL_SOCKET, SO_RCVBUF, 33333) < 0)
		die("netlink generic");
	rcvbuf = get(sk[NL_UNB], SOL_SOCKET, SO_RCVBUF);
	if (queued)
		ask_links(sk[NL_BOUND]); /* its answer waits, unread */
	if (closed) {
		close(sk[PK_RAW]); /* the mapping keeps the socket */
		sk[PK_RAW] = -1;
	}
}

static void check_nl(void)
{
	struct sockaddr_nl a = nl_name(sk[NL_BOUND], 0);
	if (a.nl_pid != PORT || a.nl_groups != RTMGRP_LINK)
		fail("netlink bound: port %u groups 0x%x, not %u 0x%x", a.nl_pid, a.nl_groups, PORT, RTMGRP_LINK);
	a = nl_name(sk[NL_AUTO], 0);
	if (a.nl_pid != auto_port || a.nl_groups != RTMGRP_IPV4_IFADDR)
		fail("netlink auto: port %u groups 0x%x, not %u 0x%x", a.nl_pid, a.nl_groups, auto_port, RTMGRP_IPV4_IFADDR);
	a = nl_name(sk[NL_CONN], 1);
	if (a.nl_pid != PORT)
		fail("netlink connected: peer port %u, not %u", a.nl_pid, PORT);
	if (get(sk[NL_UNB], SOL_SOCKET, SO_PROTOCOL) != NETLINK_GENERIC || get(sk[NL_UNB], SOL_SOCKET, SO_PASSCRED) != 1 ||
	    get(sk[NL_UNB], SOL_SOCKET, SO_RCVBUF) != rcvbuf)
		fail("netlink generic: protocol %d passcred %d rcvbuf %d (want %d)", get(sk[NL_UNB], SOL_SOCKET, SO_PROTOCOL),
		     get(sk[NL_UNB], SOL_SOCKET, SO_PASSCRED), get(sk[NL_UNB], SOL_SOCKET, SO_RCVBUF), rcvbuf);
	if (nl_name(sk[NL_UNB], 0).nl_pid != 0)
		fail("netlink generic: bound, it was not");
	/* the connected socket's message reaches the bound one; the kernel answers the bound one's request */
	struct nlmsghdr h = { .nlmsg_len = sizeof(h), .nlmsg_type = NLMSG_MIN_TYPE + 5, .nlmsg_seq = 99 };
	char buf[16384];
	struct pollfd p = { sk[NL_BOUND], POLLIN, 0 };
	while (poll(&p, 1, 0) == 1 && recv(sk[NL_BOUND], buf, sizeof(buf), 0) > 0)
		; /* link notifications (the restore's memberships on lo) */
	if (send(sk[NL_CONN], &h, sizeof(h), 0) < 0)
		fail("netlink connected: send: %s", strerror(errno));
	struct sockaddr_nl from;
	socklen_t fl = sizeof(from);
	if (poll(&p, 1, 3000) != 1 || recvfrom(sk[NL_BOUND], buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) != sizeof(h) ||
	    ((struct nlmsghdr *)buf)->nlmsg_seq != 99 || from.nl_pid != nl_name(sk[NL_CONN], 0).nl_pid)
		fail("netlink: the connected socket's message did not arrive");
	ask_links(sk[NL_BOUND]);
	if (poll(&p, 1, 3000) != 1 || recv(sk[NL_BOUND], buf, sizeof(buf), 0) <= 0 || ((struct nlmsghdr *)buf)->nlmsg_type != RTM_NEWLINK)
		fail("netlink: no answer to RTM_GETLINK");
	while (poll(&p, 1, 100) == 1 && recv(sk[NL_BOUND], buf, sizeof(buf), 0) > 0)
		;
}

static void check_pk(void)
{
	struct sockaddr_ll a = { 0 };
	socklen_t l = sizeof(a);
	if (getsockname(sk[PK_RAW], (struct sockaddr *)&a, &l) < 0 || a.sll_ifindex != lo || a.sll_protocol != htons(ETH_P_ALL))
		fail("packet raw: bound to %d protocol 0x%x", a.sll_ifindex, ntohs(a.sll_protocol));
	if (get(sk[PK_RAW], SOL_PACKET, PACKET_VERSION) != TPACKET_V2 || get(sk[PK_RAW], SOL_PACKET, PACKET_RESERVE) != 64 ||
	    get(sk[PK_RAW], SOL_PACKET, PACKET_AUXDATA) != 1 || get(sk[PK_RAW], SOL_PACKET, PACKET_ORIGDEV) != 1)
		fail("packet raw: version %d reserve %d auxdata %d origdev %d", get(sk[PK_RAW], SOL_PACKET, PACKET_VERSION),
		     get(sk[PK_RAW], SOL_PACKET, PACKET_RESERVE), get(sk[PK_RAW], SOL_PACKET, PACKET_AUXDATA), get(sk[PK_RAW], SOL_PACKET, PACKET_ORIGDEV));
	for (int i = PK_FAN1; i <= PK_FAN2; i++)
		if (get(sk[i], SOL_PACKET, PACKET_FANOUT) != (FANOUT_ID | (PACKET_FANOUT_CPU << 16)))
			fail("packet fanout %d: 0x%x", i, get(sk[i], SOL_PACKET, PACKET_FANOUT));
	if (get(sk[PK_DGRAM], SOL_SOCKET, SO_TYPE) != SOCK_DGRAM || get(sk[PK_DGRAM], SOL_PACKET, PACKET_LOSS) != 1 ||
	    get(sk[PK_FAN2], SOL_PACKET, PACKET_VNET_HDR) != 1)
		fail("packet dgram: type %d loss %d; fanout 2's vnet_hdr %d", get(sk[PK_DGRAM], SOL_SOCKET, SO_TYPE),
		     get(sk[PK_DGRAM], SOL_PACKET, PACKET_LOSS), get(sk[PK_FAN2], SOL_PACKET, PACKET_VNET_HDR));
	struct sockaddr sa = { 0 };
	l = sizeof(sa);
	if (get(sk[PK_SPKT], SOL_SOCKET, SO_TYPE) != SOCK_PACKET || getsockname(sk[PK_SPKT], &sa, &l) < 0 || strcmp(sa.sa_data, "lo"))
		fail("SOCK_PACKET: type %d bound to '%.14s'", get(sk[PK_SPKT], SOL_SOCKET, SO_TYPE), sa.sa_data);
	/* a frame sent on lo lands in the mapped ring, which must be empty (its frames the kernel's) before */
	for (int i = 0; i < 4; i++)
		((struct tpacket2_hdr *)((char *)ring + i * RING_FRAME))->tp_status = TP_STATUS_KERNEL;
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr = { htonl(INADDR_LOOPBACK) } };
	if (u < 0 || sendto(u, "ring", 4, 0, (struct sockaddr *)&dst, sizeof(dst)) != 4)
		fail("udp send on lo: %s", strerror(errno));
	close(u);
	struct pollfd p = { sk[PK_RAW], POLLIN, 0 };
	int got = 0;
	if (poll(&p, 1, 3000) == 1)
		for (int i = 0; i < 4; i++)
			got |= ((struct tpacket2_hdr *)((char *)ring + i * RING_FRAME))->tp_status & TP_STATUS_USER;
	if (!got)
		fail("packet raw: nothing arrived in the mapped ring");
}

static void verify(void)
{
	failed = 0;
	check_nl();
	check_pk();
	printf(failed ? "RESULT FAIL\n" : "RESULT PASS\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	setup(argc == 2 && !strcmp(argv[1], "queued"), argc == 2 && !strcmp(argv[1], "closed"));
	printf("READY pid=%d\n", getpid());
	check_forever(verify);
}
