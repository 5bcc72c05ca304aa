// Live programs for crit's tests: compile a small C program, start it detached
// (own session, stdout to out.log, clean environment), dump it with the engine's
// `ckpt dump --leave-running`, and clean up only the processes we started.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { sleep } from '../engine/helpers.mjs';
import { join } from 'node:path';
import { ROOT } from './corpus.mjs';

export const CKPT = join(ROOT, 'packages/engine/bin/ckpt.js');

/**
 * The test program: argv[1] goes into a heap string "crit-needle-<argv[1]>"; a child
 * process sleeps; every 100 ms the counter goes up and a tick line is written.
 * SIGUSR1 makes it open a unix socketpair; the child can be killed (it is reaped).
 */
export const COUNTER_C = String.raw`
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
volatile unsigned long counter;
static volatile sig_atomic_t want_socket;
static void on_usr1(int s) { (void)s; want_socket = 1; }
int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	char *needle = malloc(64);
	snprintf(needle, 64, "crit-needle-%s", argc > 1 ? argv[1] : "none");
	pid_t child = fork();
	if (child == 0) { for (;;) pause(); }
	signal(SIGUSR1, on_usr1);
	printf("READY pid=%d child=%d counter=%p needle=%p\n", getpid(), child, (void *)&counter, (void *)needle);
	int sv[2] = { -1, -1 };
	for (;;) {
		counter++;
		printf("tick %lu %s\n", counter, needle);
		if (want_socket && sv[0] < 0) { socketpair(AF_UNIX, SOCK_STREAM, 0, sv); printf("SOCKET %d %d\n", sv[0], sv[1]); }
		waitpid(-1, NULL, WNOHANG);
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
`;

// the engine suites' helpers: work dirs under test/.tmp, the ptrace check (skip locally, fail under CI)
export { needPtrace as liveOrSkip, sleep, workDir } from '../engine/helpers.mjs';

/** Starts the counter program in dir; returns its pids, addresses and log reader. */
export async function startCounter(dir, arg = 'x') {
  const src = join(dir, 'counter.c');
  writeFileSync(src, COUNTER_C);
  const prog = join(dir, 'counter');
  execFileSync('gcc', ['-O1', '-o', prog, src]);
  const log = join(dir, 'out.log');
  closeSync(openSync(log, 'a'));
  const script = 'n=3; while [ $n -lt 256 ]; do eval "exec $n>&-" 2>/dev/null; n=$((n+1)); done; setsid "$@" </dev/null >>out.log 2>&1 &';
  spawnSync('/bin/bash', ['-c', script, 'bash', prog, arg], { cwd: dir, stdio: 'ignore', env: { PATH: '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', TERM: 'xterm' } });
  const deadline = Date.now() + 5000;
  let m;
  while (!(m = /READY pid=(\d+) child=(\d+) counter=(0x[0-9a-f]+) needle=(0x[0-9a-f]+)/.exec(readFileSync(log, 'utf8')))) {
    if (Date.now() > deadline) throw new Error('the counter program did not start');
    await sleep(20);
  }
  await sleep(250);
  return {
    prog, pid: Number(m[1]), child: Number(m[2]), counter: BigInt(m[3]), needle: BigInt(m[4]),
    log: () => readFileSync(log, 'utf8'),
  };
}

/** ckpt dump --leave-running of pid into dir/name. */
export function dump(pid, imgDir) {
  const r = spawnSync(process.execPath, [CKPT, 'dump', '-t', String(pid), '-D', imgDir, '--leave-running'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ckpt dump failed: ${r.stderr}`);
  return imgDir;
}

/** Kills the processes this test started (by pid) and removes the work dir. */
export function stop(h, dir) {
  for (const p of [h?.child, h?.pid]) {
    if (!p) continue;
    try {
      process.kill(p, 'SIGKILL');
    } catch {}
  }
  if (dir && !process.env.KEEP_TMP) rmSync(dir, { recursive: true, force: true });
}
