/* task-seccomp-mixed: seccomp per thread (zdtm seccomp_filter_threads, seccomp_strict). The main thread has
 * none; thread A a filter failing getppid with errno 71, thread B one failing getpgrp with errno 72 (each
 * allows the other's); thread C and a child process are in strict mode, echoing bytes through pipes. Every
 * tick the main thread checks each one's mode (/proc) and that A and B see their own filter and not the
 * other's: "tick N ok" or "tick N BAD why". */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int deny(int nr, int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { 4, f };
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/* what a call gives: its errno when it fails, 0 when it runs */
static int outcome(int nr) { return syscall(nr) < 0 ? errno : 0; }

struct filtered { int nr, err, other; pid_t tid; volatile int state; /* 1 ok, 2 bad */ };
static struct filtered fa = { SYS_getppid, 71, SYS_getpgrp }, fb = { SYS_getpgrp, 72, SYS_getppid };
static volatile pid_t tid_c;
static int c_in[2], c_out[2];

static void *filtered_thread(void *arg)
{
	struct filtered *f = arg;
	f->tid = (pid_t)syscall(SYS_gettid);
	if (deny(f->nr, f->err) < 0)
		f->state = 2;
	for (;;) {
		if (f->state != 2)
			f->state = outcome(f->nr) == f->err && outcome(f->other) == 0 ? 1 : 2;
		usleep(20000);
	}
}

/* strict mode: only read, write, exit and sigreturn are left */
static void echo_strict(int in, int out)
{
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) < 0)
		return;
	for (char c; read(in, &c, 1) == 1 && write(out, &c, 1) == 1;)
		;
	syscall(SYS_exit, 0);
}

static void *strict_thread(void *arg)
{
	(void)arg;
	tid_c = (pid_t)syscall(SYS_gettid);
	echo_strict(c_in[0], c_out[1]);
	return NULL;
}

static int mode_of(pid_t pid, pid_t tid)
{
	char p[64], line[128];
	int mode = -1;
	snprintf(p, sizeof(p), "/proc/%d/task/%d/status", pid, tid);
	FILE *f = fopen(p, "r");
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "Seccomp:\t%d", &mode);
	if (f)
		fclose(f);
	return mode;
}

/* one byte through an echoing strict-mode task */
static int echoes(int to, int from)
{
	char c = 'x';
	struct pollfd p = { from, POLLIN, 0 };
	return write(to, &c, 1) == 1 && poll(&p, 1, 1000) == 1 && read(from, &c, 1) == 1 && c == 'x';
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int p_in[2], p_out[2];
	if (pipe(c_in) || pipe(c_out) || pipe(p_in) || pipe(p_out))
		return 1;
	pid_t child = fork();
	if (child == 0) {
		echo_strict(p_in[0], p_out[1]);
		_exit(3);
	}
	pthread_t th;
	pthread_create(&th, NULL, filtered_thread, &fa);
	pthread_create(&th, NULL, filtered_thread, &fb);
	pthread_create(&th, NULL, strict_thread, NULL);
	while (!fa.state || !fb.state || !tid_c)
		usleep(1000);
	usleep(50000);
	printf("READY pid=%d child=%d\n", getpid(), child);
	for (int n = 0;; n++) {
		char bad[160] = "";
		pid_t me = getpid();
		if (mode_of(me, me) != 0 || outcome(SYS_getppid) || outcome(SYS_getpgrp))
			snprintf(bad, sizeof(bad), "main thread: mode %d, getppid %d, getpgrp %d", mode_of(me, me), outcome(SYS_getppid), outcome(SYS_getpgrp));
		else if (fa.state != 1 || fb.state != 1 || mode_of(me, fa.tid) != 2 || mode_of(me, fb.tid) != 2)
			snprintf(bad, sizeof(bad), "filtered threads: state %d %d, mode %d %d", fa.state, fb.state, mode_of(me, fa.tid), mode_of(me, fb.tid));
		else if (mode_of(me, tid_c) != 1 || !echoes(c_in[1], c_out[0]))
			snprintf(bad, sizeof(bad), "strict thread: mode %d, or no echo", mode_of(me, tid_c));
		else if (mode_of(child, child) != 1 || !echoes(p_in[1], p_out[0]))
			snprintf(bad, sizeof(bad), "strict child: mode %d, or no echo", mode_of(child, child));
		printf(bad[0] ? "tick %d BAD %s\n" : "tick %d ok\n", n, bad);
		usleep(200000);
	}
}
