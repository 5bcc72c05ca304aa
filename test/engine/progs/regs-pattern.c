/* regs-pattern: fills the FPU/vector registers with a pattern and checks they keep it.
 * x87: the 8 stack registers and the control word; SSE: xmm0-15 and MXCSR; with AVX: ymm0-15 (upper
 * halves); with AVX-512 (F+BW): k0-k7 and zmm0-31. It picks the widest the CPU and OS enable (CPUID +
 * XGETBV), prints "covered ..." and READY, then every 200 ms stores the registers to memory (fxsave,
 * vmovdqu, kmovq: nothing that changes them), compares them with the pattern and prints
 * "tick N regs=ok", or "MISMATCH ..." and exits 1.
 * After the pattern is loaded nothing here may touch a vector or x87 register: every function below is
 * compiled for general registers only, and the loop calls no libc (raw syscalls, which keep the FPU state).
 * Pattern (the test recomputes it): zmm i word w = 0xA5C3000000000000 + (i << 32) + (w << 16) + 8i + w + 1;
 * k i = 0x6B6B000000000000 + ((i + 1) << 32) + (0xC0FFEE ^ i); st(i): sign i&1, exponent 0x3FF0 + 3i,
 * mantissa 0x8000000000000000 | (0x0123456789ABCDEF * (i + 1)); FCW 0x0F7F; MXCSR 0xFF80. */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#pragma GCC target("general-regs-only")
#pragma GCC optimize("no-tree-loop-distribute-patterns")

enum { SSE = 1, AVX = 2, AVX512 = 3 };
#define FCW 0x0F7F   /* all exceptions masked, 64-bit precision, round toward zero */
#define MXCSR 0xFF80 /* all exceptions masked, round toward zero, flush to zero */

static uint64_t zpat[32][8] __attribute__((aligned(64)));
static uint64_t kpat[8];
static unsigned char stpat[8][10];
static const uint16_t fcw = FCW;
static const uint32_t mxcsr = MXCSR;

static struct {
	unsigned char fx[512] __attribute__((aligned(64)));
	uint64_t zmm[32][8] __attribute__((aligned(64)));
	uint64_t k[8];
} snap, ref;

static long sys3(long nr, long a, long b, long c)
{
	long r;
	asm volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

static int level(void)
{
	unsigned a, b, c, d;
	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 27)) || !(c & (1u << 28)))
		return SSE; /* no OSXSAVE or no AVX */
	uint32_t lo, hi;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 6) != 6)
		return SSE;
	if (__get_cpuid_max(0, 0) < 7)
		return AVX;
	__cpuid_count(7, 0, a, b, c, d);
	if ((b & (1u << 16)) && (b & (1u << 30)) && (lo & 0xe6) == 0xe6)
		return AVX512;
	return AVX;
}

static void make_pattern(void)
{
	for (uint64_t i = 0; i < 32; i++)
		for (uint64_t w = 0; w < 8; w++)
			zpat[i][w] = 0xA5C3000000000000ULL + (i << 32) + (w << 16) + 8 * i + w + 1;
	for (uint64_t i = 0; i < 8; i++)
		kpat[i] = 0x6B6B000000000000ULL + ((i + 1) << 32) + (0xC0FFEE ^ i);
	for (uint64_t i = 0; i < 8; i++) {
		uint64_t mant = 0x8000000000000000ULL | (0x0123456789ABCDEFULL * (i + 1));
		uint16_t se = (uint16_t)(((i & 1) << 15) | (0x3FF0 + 3 * i));
		for (int j = 0; j < 8; j++)
			stpat[i][j] = (unsigned char)(mant >> (8 * j));
		stpat[i][8] = (unsigned char)se;
		stpat[i][9] = (unsigned char)(se >> 8);
	}
}

#define X8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define X16(M) X8(M) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define X32(M) X16(M) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) M(24) M(25) M(26) M(27) M(28) M(29) M(30) M(31)
#define LD_XMM(i) "movdqu " #i "*64(%0), %%xmm" #i "\n\t"
#define LD_YMM(i) "vmovdqu " #i "*64(%0), %%ymm" #i "\n\t"
#define LD_ZMM(i) "vmovdqu64 " #i "*64(%0), %%zmm" #i "\n\t"
#define LD_K(i) "kmovq " #i "*8(%0), %%k" #i "\n\t"
#define ST_YMM(i) "vmovdqu %%ymm" #i ", " #i "*64(%0)\n\t"
#define ST_ZMM(i) "vmovdqu64 %%zmm" #i ", " #i "*64(%0)\n\t"
#define ST_K(i) "kmovq %%k" #i ", " #i "*8(%0)\n\t"

static void load(int lvl)
{
	/* x87: ST(0) = stpat[0], so the last one loaded first */
	asm volatile("fninit\n\tfldcw (%1)\n\t"
		     "fldt 70(%0)\n\tfldt 60(%0)\n\tfldt 50(%0)\n\tfldt 40(%0)\n\t"
		     "fldt 30(%0)\n\tfldt 20(%0)\n\tfldt 10(%0)\n\tfldt 0(%0)\n\t"
		     "ldmxcsr (%2)" : : "r"(stpat), "r"(&fcw), "r"(&mxcsr) : "memory");
	if (lvl == SSE)
		asm volatile(X16(LD_XMM) : : "r"(zpat) : "memory");
	else if (lvl == AVX)
		asm volatile(X16(LD_YMM) : : "r"(zpat) : "memory");
	else {
		asm volatile(X32(LD_ZMM) : : "r"(zpat) : "memory");
		asm volatile(X8(LD_K) : : "r"(kpat) : "memory");
	}
}

/* the registers into s, changing none */
static void store(int lvl, void *s_fx, void *s_zmm, void *s_k)
{
	asm volatile("fxsave64 (%0)" : : "r"(s_fx) : "memory");
	if (lvl == AVX)
		asm volatile(X16(ST_YMM) : : "r"(s_zmm) : "memory");
	else if (lvl == AVX512) {
		asm volatile(X32(ST_ZMM) : : "r"(s_zmm) : "memory");
		asm volatile(X8(ST_K) : : "r"(s_k) : "memory");
	}
}

static char line[160];
static int len;

static void put(const char *s)
{
	while (*s && len < (int)sizeof(line) - 1)
		line[len++] = *s++;
}

static void put_num(uint64_t v, int base)
{
	char d[24];
	int n = 0;
	do {
		d[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n && len < (int)sizeof(line) - 1)
		line[len++] = d[--n];
}

static void flush(void)
{
	line[len++] = '\n';
	sys3(SYS_write, 1, (long)line, len);
	len = 0;
}

static void mismatch(const char *what, int i, uint64_t got, uint64_t want)
{
	put("MISMATCH ");
	put(what);
	put(" ");
	put_num((uint64_t)i, 10);
	put(" got 0x");
	put_num(got, 16);
	put(" want 0x");
	put_num(want, 16);
	flush();
	sys3(SYS_exit_group, 1, 0, 0);
}

static uint64_t bytes(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int j = n - 1; j >= 0; j--)
		v = v << 8 | p[j];
	return v;
}

static void check(int lvl)
{
	const unsigned char *fx = snap.fx;
	if (bytes(fx, 2) != FCW)
		mismatch("fcw", 0, bytes(fx, 2), FCW);
	if (bytes(fx + 2, 2) != bytes(ref.fx + 2, 2))
		mismatch("fsw", 0, bytes(fx + 2, 2), bytes(ref.fx + 2, 2));
	if (fx[4] != 0xff)
		mismatch("ftw", 0, fx[4], 0xff);
	if (bytes(fx + 24, 4) != MXCSR)
		mismatch("mxcsr", 0, bytes(fx + 24, 4), MXCSR);
	for (int i = 0; i < 8; i++) {
		if (bytes(fx + 32 + 16 * i, 8) != bytes(stpat[i], 8))
			mismatch("st-mantissa", i, bytes(fx + 32 + 16 * i, 8), bytes(stpat[i], 8));
		if (bytes(fx + 40 + 16 * i, 2) != bytes(stpat[i] + 8, 2))
			mismatch("st-exponent", i, bytes(fx + 40 + 16 * i, 2), bytes(stpat[i] + 8, 2));
	}
	for (int i = 0; i < 16; i++)
		for (int w = 0; w < 2; w++)
			if (bytes(fx + 160 + 16 * i + 8 * w, 8) != zpat[i][w])
				mismatch(w ? "xmm-word1" : "xmm-word0", i, bytes(fx + 160 + 16 * i + 8 * w, 8), zpat[i][w]);
	int nz = lvl == AVX512 ? 32 : lvl == AVX ? 16 : 0, nw = lvl == AVX512 ? 8 : 4;
	for (int i = 0; i < nz; i++)
		for (int w = 0; w < nw; w++)
			if (snap.zmm[i][w] != zpat[i][w])
				mismatch(lvl == AVX512 ? "zmm-word" : "ymm-word", i * 8 + w, snap.zmm[i][w], zpat[i][w]);
	for (int i = 0; lvl == AVX512 && i < 8; i++)
		if (snap.k[i] != kpat[i])
			mismatch("k", i, snap.k[i], kpat[i]);
}

int main(void)
{
	int lvl = level();
	make_pattern();
	printf("covered x87 sse%s%s\n", lvl >= AVX ? " avx" : "", lvl >= AVX512 ? " avx512" : "");
	printf("READY pid=%d\n", getpid());
	fflush(stdout);
	load(lvl);
	store(lvl, ref.fx, ref.zmm, ref.k);
	for (uint64_t n = 1;; n++) {
		store(lvl, snap.fx, snap.zmm, snap.k);
		check(lvl);
		put("tick ");
		put_num(n, 10);
		put(" regs=ok");
		flush();
		struct { long s, ns; } ts = { 0, 200 * 1000 * 1000 };
		sys3(SYS_nanosleep, (long)&ts, 0, 0);
	}
}
