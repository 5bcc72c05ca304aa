/* task-caps: a parent and a child with capability sets of their own, ambient ones included (zdtm caps01).
 * Parent: CAP_DAC_OVERRIDE out of permitted and effective, CAP_NET_RAW out of the bounding set, inheritable
 * CHOWN, KILL and NET_BIND_SERVICE, ambient KILL and NET_BIND_SERVICE. Child: CAP_FOWNER out of permitted and
 * effective, inheritable CHOWN only, ambient CHOWN. Every tick the parent reads its own five sets (capget,
 * PR_CAPBSET_READ, PR_CAP_AMBIENT_IS_SET) and the child's (/proc/PID/status): "tick N ok" or "tick N BAD ...".
 * With "lock", SECBIT_NO_CAP_AMBIENT_RAISE is set after the raise (a state a restore cannot rebuild). */
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BIT(c) (1ULL << (c))
#define SECBIT_NO_CAP_AMBIENT_RAISE_BIT (1 << 6)

struct caps { uint64_t inh, prm, eff, bnd, amb; };

static int get_caps(struct caps *c)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		return -1;
	c->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	c->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	c->eff = d[0].effective | (uint64_t)d[1].effective << 32;
	c->bnd = c->amb = 0;
	for (int k = 0; k < 64; k++) {
		if (prctl(PR_CAPBSET_READ, k, 0, 0, 0) == 1)
			c->bnd |= BIT(k);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, k, 0, 0) == 1)
			c->amb |= BIT(k);
	}
	return 0;
}

/* prm and eff lose `drop`, inh becomes `inh`, the bounding set loses `bnd_drop`, `amb` is raised */
static struct caps set_caps(uint64_t drop, uint64_t inh, uint64_t bnd_drop, uint64_t amb)
{
	struct caps c;
	get_caps(&c);
	for (int k = 0; k < 64; k++)
		if (bnd_drop & BIT(k))
			prctl(PR_CAPBSET_DROP, k, 0, 0, 0);
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	uint64_t prm = c.prm & ~drop;
	for (int w = 0; w < 2; w++) {
		d[w].permitted = d[w].effective = (uint32_t)(prm >> (32 * w));
		d[w].inheritable = (uint32_t)(inh >> (32 * w));
	}
	if (syscall(SYS_capset, &h, d))
		perror("capset");
	for (int k = 0; k < 64; k++)
		if (amb & BIT(k) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, k, 0, 0))
			perror("PR_CAP_AMBIENT_RAISE");
	struct caps want = { inh, prm, prm, c.bnd & ~bnd_drop, amb };
	return want;
}

static int proc_caps(pid_t pid, struct caps *c)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (sscanf(line, "CapInh: %llx", &v) == 1) c->inh = v, n++;
		else if (sscanf(line, "CapPrm: %llx", &v) == 1) c->prm = v, n++;
		else if (sscanf(line, "CapEff: %llx", &v) == 1) c->eff = v, n++;
		else if (sscanf(line, "CapBnd: %llx", &v) == 1) c->bnd = v, n++;
		else if (sscanf(line, "CapAmb: %llx", &v) == 1) c->amb = v, n++;
	}
	fclose(f);
	return n == 5 ? 0 : -1;
}

static int differs(const char *who, const struct caps *want, const struct caps *got, char *out, size_t len)
{
	if (!memcmp(want, got, sizeof(*want)))
		return 0;
	snprintf(out, len, "%s inh %llx/%llx prm %llx/%llx eff %llx/%llx bnd %llx/%llx amb %llx/%llx (want/got)", who,
		 (unsigned long long)want->inh, (unsigned long long)got->inh, (unsigned long long)want->prm, (unsigned long long)got->prm,
		 (unsigned long long)want->eff, (unsigned long long)got->eff, (unsigned long long)want->bnd, (unsigned long long)got->bnd,
		 (unsigned long long)want->amb, (unsigned long long)got->amb);
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct caps start;
	get_caps(&start);
	uint64_t need = BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FOWNER) | BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE) |
			BIT(CAP_NET_RAW) | BIT(CAP_SETPCAP);
	if ((start.prm & need) != need) {
		printf("BAD setup: the capabilities %llx are needed, %llx permitted\n", (unsigned long long)need, (unsigned long long)start.prm);
		return 1;
	}
	struct caps me = set_caps(BIT(CAP_DAC_OVERRIDE), BIT(CAP_CHOWN) | BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE), BIT(CAP_NET_RAW),
				  BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE));
	int fds[2];
	if (pipe(fds))
		return 1;
	pid_t child = fork();
	if (child == 0) {
		close(fds[0]);
		set_caps(BIT(CAP_FOWNER), BIT(CAP_CHOWN), 0, BIT(CAP_CHOWN));
		if (write(fds[1], "x", 1) != 1)
			return 1;
		for (;;)
			pause();
	}
	char c;
	if (read(fds[0], &c, 1) != 1)
		return 1;
	struct caps kid = me;
	kid.prm = kid.eff = me.prm & ~BIT(CAP_FOWNER);
	kid.inh = kid.amb = BIT(CAP_CHOWN);
	if (argc > 1 && !strcmp(argv[1], "lock") && prctl(PR_SET_SECUREBITS, SECBIT_NO_CAP_AMBIENT_RAISE_BIT, 0, 0, 0))
		perror("PR_SET_SECUREBITS");
	printf("READY pid=%d child=%d\n", getpid(), child);
	for (unsigned long n = 1;; n++) {
		struct caps got, kgot;
		char why[512];
		if (get_caps(&got) || proc_caps(child, &kgot))
			printf("tick %lu BAD cannot read the capabilities\n", n);
		else if (differs("parent", &me, &got, why, sizeof(why)) || differs("child", &kid, &kgot, why, sizeof(why)))
			printf("tick %lu BAD %s\n", n, why);
		else
			printf("tick %lu ok\n", n);
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
