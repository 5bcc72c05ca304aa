// What undoes a dump's hold on the network if ckpt itself dies in the middle of it (SIGKILL, a crash), where
// no code of ckpt runs: the ckpt-dump-guard program (native/dump-guard.c), started at the first thing the dump
// locks, told each task of the tree, each socket about to enter repair mode and each command that undoes a part
// of the lock, before it is taken. When the dump ends (rolled back or not) it is told `done` and exits; at EOF
// without it, it unlocks and takes the sockets out of repair mode. The kernel lets the tasks go on when their
// tracer dies: between that and the guard's work (milliseconds) a task may meet a socket still in repair mode.
// SIGINT and SIGTERM need no guard: the dump rolls back itself (src/fault.ts).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from './native.js';
import type { Log } from './log.js';

export function guardPath(): string {
  // this package's build/, from dist/dump-guard.js (as the restore helper's)
  return resolve(dirname(fileURLToPath(import.meta.url)), '../build/Release/ckpt-dump-guard');
}

export class DumpGuard {
  /** the pipe to the guard; -1 not started, -2 it could not be (said once) */
  private fd = -1;
  private tasks: string[] = [];

  constructor(private log: Log) {}

  /** the tasks of the frozen tree: where the guard finds the sockets again (sent once it has any) */
  task(pid: number): void {
    this.tasks.push(`task ${pid}`);
    if (this.fd >= 0) this.send(this.tasks.pop()!);
  }

  /** before the socket with inode ino enters repair mode: its SO_REUSEADDR to put back */
  repair(ino: number, reuseaddr: number): void {
    this.send(`repair ${ino} ${reuseaddr}`);
  }

  /** before a part of the lock is taken: argv, the command that undoes it */
  unlock(argv: string[]): void {
    this.send(`unlock ${argv.join(' ')}`);
  }

  /** the dump ended, rolled back or not: the guard has nothing to undo */
  done(): void {
    if (this.fd < 0) return;
    this.send('done');
    closeSync(this.fd);
    this.fd = -1;
  }

  private send(line: string): void {
    if (this.fd === -1) this.start();
    if (this.fd < 0) return;
    try {
      writeSync(this.fd, `${line}\n`);
    } catch (e) {
      this.log.warn(`the dump guard is gone (${(e as Error).message}): should ckpt die now, the network lock would stay`);
      closeSync(this.fd);
      this.fd = -2;
    }
  }

  private start(): void {
    const path = guardPath();
    const p = existsSync(path) ? native().pipe() : -2;
    if (typeof p === 'number') {
      this.log.warn(`cannot start the dump guard ${path} (${p === -2 ? 'missing: npm run build' : `pipe: errno ${-p}`}): should ckpt die now, the network lock would stay`);
      this.fd = -2;
      return;
    }
    // a session of its own: the terminal's signals to ckpt are not its own; its stderr is ours
    const child = spawn(path, [], { stdio: [p[0], 'ignore', 'inherit'], detached: true });
    child.on('error', () => { /* reported by the first write */ });
    child.unref();
    closeSync(p[0]);
    this.fd = p[1];
    for (const l of this.tasks.splice(0)) this.send(l);
  }
}
