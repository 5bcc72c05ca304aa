/* netns-state: a program in a network namespace of its own (unshare(CLONE_NEWNET)), with state ckpt dumps with it:
 * loopback up with mtu 65000, an address 10.77.0.1/24 and a sysctl (net.unix.max_dgram_qlen 77, ipv4 forwarding
 * of lo 1) it sets itself; a route, a rule, an iptables-legacy rule and an nftables table set through the tools
 * (the test checks those through nsenter; a conntrack rule, so that the connection is tracked); a TCP connection over lo from 10.77.0.1 to itself with bytes in
 * flight both ways. With argv[1] "nested", a child that unshares another network namespace (refused at dump).
 * On SIGUSR1 checks what it can see itself: lo, the address, the sysctls, that every socket is in its namespace,
 * the bytes in flight and an echo both ways over the connection. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sock-check.h"

static int l, c, a;

static int sh(const char *cmd)
{
	int r = system(cmd);
	if (r)
		printf("setup failed: %s: status %d\n", cmd, r);
	return r;
}

static void put(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, v, strlen(v)) < 0)
		printf("setup: %s: %s\n", path, strerror(errno));
	close(fd);
}

static long get(const char *path)
{
	char b[64] = "";
	int fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, b, sizeof(b) - 1) < 0)
		return -1;
	close(fd);
	return atol(b);
}

static void expect_read(int fd, const char *what, const char *name)
{
	char b[64] = "";
	size_t n = strlen(what), got = 0;
	for (int i = 0; i < 50 && got < n; i++) {
		ssize_t r = recv(fd, b + got, n - got, MSG_DONTWAIT);
		if (r > 0)
			got += r;
		else
			usleep(20000);
	}
	if (got != n || memcmp(b, what, n))
		fail("%s: read '%.*s', expected '%s'", name, (int)got, b, what);
}

static void verify(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = { .ifr_name = "lo" };
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || !(ifr.ifr_flags & IFF_UP))
		fail("lo is not up");
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0 || ifr.ifr_mtu != 65000)
		fail("lo: mtu %d, not 65000", ifr.ifr_mtu);
	struct ifaddrs *ifa, *i;
	int found = 0;
	getifaddrs(&ifa);
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == inet_addr("10.77.0.1") && !strcmp(i->ifa_name, "lo"))
			found = 1;
	freeifaddrs(ifa);
	if (!found)
		fail("no address 10.77.0.1 on lo");
	if (get("/proc/sys/net/unix/max_dgram_qlen") != 77)
		fail("net.unix.max_dgram_qlen is %ld, not 77", get("/proc/sys/net/unix/max_dgram_qlen"));
	if (get("/proc/sys/net/ipv4/conf/lo/forwarding") != 1)
		fail("net.ipv4.conf.lo.forwarding is not 1");
	struct stat own;
	stat("/proc/self/ns/net", &own);
	int fds[] = { l, c, a };
	for (int k = 0; k < 3; k++) {
		int ns = ioctl(fds[k], SIOCGSKNS);
		struct stat st;
		if (ns < 0 || fstat(ns, &st) < 0 || st.st_ino != own.st_ino)
			fail("socket %d is not in the task's network namespace", fds[k]);
		close(ns);
	}
	close(s);
	expect_read(a, "from-client", "accepted end");
	expect_read(c, "from-server", "client end");
	if (send(c, "ping", 4, 0) != 4 || send(a, "pong", 4, 0) != 4)
		fail("send after restore: %s", strerror(errno));
	expect_read(a, "ping", "accepted end");
	expect_read(c, "pong", "client end");
	printf(failed ? "RESULT FAIL\n" : "RESULT PASS\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1); /* the tools are in sbin */
	if (unshare(CLONE_NEWNET) < 0) {
		printf("setup failed: unshare: %s\n", strerror(errno));
		return 1;
	}
	if (sh("ip link set lo up mtu 65000") || sh("ip addr add 10.77.0.1/24 dev lo") || sh("ip route add 10.88.0.0/16 via 10.77.0.2 dev lo") ||
	    sh("ip rule add from 10.77.0.9 table 100 prio 1000") || sh("iptables-legacy -w -A INPUT -s 10.66.0.0/16 -j DROP") ||
	    sh("nft add table inet ckpttest") || sh("nft 'add chain inet ckpttest in { type filter hook input priority 0; }'") ||
	    sh("nft add rule inet ckpttest in ct state established counter accept") || sh("nft add rule inet ckpttest in tcp dport 9999 counter drop"))
		return 1;
	put("/proc/sys/net/unix/max_dgram_qlen", "77");
	put("/proc/sys/net/ipv4/conf/lo/forwarding", "1");
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(7070) };
	inet_pton(AF_INET, "10.77.0.1", &addr.sin_addr);
	l = socket(AF_INET, SOCK_STREAM, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(l, 4) < 0 ||
	    connect(c, (struct sockaddr *)&addr, sizeof(addr)) < 0 || (a = accept(l, NULL, NULL)) < 0) {
		printf("setup failed: %s\n", strerror(errno));
		return 1;
	}
	/* in flight at the dump: each end has bytes it has not read */
	if (send(c, "from-client", 11, 0) != 11 || send(a, "from-server", 11, 0) != 11)
		return 1;
	if (argc > 1 && !strcmp(argv[1], "nested") && fork() == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			return 1;
		for (;;)
			pause();
	}
	printf("READY pid=%d\n", getpid());
	check_forever(verify);
}
