/* vdso-calls: every 100 ms, calls each vDSO function through the pointer it looked up at start (as glibc
 * caches them) and through libc, and checks each result against the raw syscall made just before and after.
 * Prints "READY pid=N clock_gettime=ADDR", then "tick N vdso=ok" or "tick N vdso=BAD <what>". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int (*v_clock_gettime)(clockid_t, struct timespec *);
static int (*v_gettimeofday)(struct timeval *, void *);
static time_t (*v_time)(time_t *);
static int (*v_clock_getres)(clockid_t, struct timespec *);
static long (*v_getcpu)(unsigned *, unsigned *, void *);
static long (*v_getrandom)(void *, size_t, unsigned, void *, size_t);

static char bad[256];
#define BAD(...) (bad[0] ? 0 : snprintf(bad, sizeof(bad), __VA_ARGS__))

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static void check_clock(clockid_t c, int (*f)(clockid_t, struct timespec *), const char *how)
{
	struct timespec a, v, z;
	syscall(SYS_clock_gettime, c, &a);
	int r = f(c, &v);
	syscall(SYS_clock_gettime, c, &z);
	if (r || ns(v) < ns(a) || ns(v) > ns(z))
		BAD("%s clock_gettime(%d)=%d %lld not in [%lld, %lld]", how, (int)c, r, ns(v), ns(a), ns(z));
	struct timespec rv, rs;
	syscall(SYS_clock_getres, c, &rs);
	r = v_clock_getres(c, &rv);
	if (r || ns(rv) != ns(rs))
		BAD("clock_getres(%d)=%d %lld, syscall %lld", (int)c, r, ns(rv), ns(rs));
}

static void check_all(void)
{
	static const clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW,
					    CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_TAI };
	for (unsigned i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		check_clock(clocks[i], v_clock_gettime, "vdso");
		check_clock(clocks[i], clock_gettime, "libc");
	}
	struct timeval a, v, z;
	syscall(SYS_gettimeofday, &a, NULL);
	int r = v_gettimeofday(&v, NULL);
	syscall(SYS_gettimeofday, &z, NULL);
	long long av = a.tv_sec * 1000000LL + a.tv_usec, vv = v.tv_sec * 1000000LL + v.tv_usec, zv = z.tv_sec * 1000000LL + z.tv_usec;
	if (r || vv < av || vv > zv)
		BAD("gettimeofday=%d %lld not in [%lld, %lld]", r, vv, av, zv);
	time_t ta = syscall(SYS_time, NULL), tp = 0, tv = v_time(&tp), tz = syscall(SYS_time, NULL);
	if (tv != tp || tv < ta || tv > tz)
		BAD("time=%ld (%ld) not in [%ld, %ld]", (long)tv, (long)tp, (long)ta, (long)tz);
	/* the same CPU before and after: then the vDSO's answer must be it too */
	int tries = 0, same = 0;
	for (; tries < 100 && !same; tries++) {
		unsigned c1, n1, c, n, c2, n2;
		syscall(SYS_getcpu, &c1, &n1, NULL);
		long gr = v_getcpu(&c, &n, NULL);
		syscall(SYS_getcpu, &c2, &n2, NULL);
		if (c1 != c2)
			continue;
		same = 1;
		if (gr || c != c1 || n != n1)
			BAD("getcpu=%ld cpu %u node %u, syscall cpu %u node %u", gr, c, n, c1, n1);
	}
	if (!same)
		BAD("getcpu: never the same CPU twice in a row");
	if (v_getrandom) {
		/* the parameters query (opaque_len ~0), then a plain call without state (the kernel's syscall path) */
		struct { unsigned size, prot, flags, pad[13]; } params = { 0 };
		unsigned char buf[16];
		long q = v_getrandom(NULL, 0, 0, &params, ~0UL), g = v_getrandom(buf, sizeof(buf), 0, NULL, 0);
		if (q || !params.size || g != sizeof(buf))
			BAD("getrandom: query %ld (state size %u), read %ld", q, params.size, g);
	}
}

static void *sym(void *h, const char *name, int need)
{
	void *p = dlsym(h, name);
	if (!p && need) {
		printf("no %s in the vDSO\n", name);
		exit(1);
	}
	return p;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	void *h = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
	if (!h) {
		printf("no vDSO: %s\n", dlerror());
		return 1;
	}
	v_clock_gettime = sym(h, "__vdso_clock_gettime", 1);
	v_gettimeofday = sym(h, "__vdso_gettimeofday", 1);
	v_time = sym(h, "__vdso_time", 1);
	v_clock_getres = sym(h, "__vdso_clock_getres", 1);
	v_getcpu = sym(h, "__vdso_getcpu", 1);
	v_getrandom = sym(h, "__vdso_getrandom", 0);
	check_all();
	printf("READY pid=%d clock_gettime=%p %s\n", getpid(), (void *)v_clock_gettime, bad[0] ? bad : "");
	for (unsigned long n = 1;; n++) {
		bad[0] = 0;
		check_all();
		printf("tick %lu vdso=%s%s\n", n, bad[0] ? "BAD " : "ok", bad);
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
