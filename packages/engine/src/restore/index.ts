// `ckpt restore`: images -> plan (plan.ts) -> the native helper (build/Release/ckpt-restore-helper), which
// forks the tree with the original PIDs and hands every task to the restorer blob. The Node process
// never forks the tree itself (it has threads and a huge address space).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DumpError, Log } from '../log.js';
import { buildPlan, encodePlan, RestoreError } from './plan.js';

export { buildPlan, encodePlan, RestoreError } from './plan.js';

export interface RestoreOptions {
  dir: string;
  detached?: boolean;
  pidfile?: string;
  shellJob?: boolean;
  extUnixSk?: boolean;
  log?: Log;
}

export interface RestoreResult { pid: number; tasks: number; threads: number; pagesBytes: number; ms: number; exitCode?: number }

export function helperPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, '../../../../build/Release/ckpt-restore-helper');
}

export function restore(opts: RestoreOptions): RestoreResult {
  const log = opts.log ?? new Log(2);
  const t0 = process.hrtime.bigint();
  const helper = helperPath();
  if (!existsSync(helper)) throw new DumpError(`restore helper not built at ${helper} (run npm run build)`);
  let plan;
  try {
    plan = buildPlan({ dir: opts.dir, detached: opts.detached ?? false, shellJob: opts.shellJob ?? false, extUnixSk: opts.extUnixSk ?? false });
  } catch (e) {
    if (e instanceof RestoreError) {
      log.error(e.message);
      throw new DumpError(e.message);
    }
    throw e;
  }
  const threads = plan.tasks.reduce((s, t) => s + t.threads.length, 0);
  const pagesBytes = plan.tasks.reduce((s, t) => s + t.pagesBytes, 0);
  log.info(`Restoring ${plan.tasks.length} task(s), ${threads} thread(s), ${(pagesBytes / 1048576).toFixed(1)} MiB of pages (root pid ${plan.tasks[0].pid})`);
  const tmp = mkdtempSync(join(tmpdir(), 'ckpt-restore-'));
  const planFile = join(tmp, 'plan');
  try {
    writeFileSync(planFile, encodePlan(plan), { mode: 0o600 });
    const r = spawnSync(helper, [planFile, String(log.level)], {
      stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20,
      // the helper's glibc must not register rseq: its memory is gone when the restored task runs
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GLIBC_TUNABLES: 'glibc.pthread.rseq=0', ...(process.env.CKPT_FAULT ? { CKPT_FAULT: process.env.CKPT_FAULT } : {}) },
    });
    for (const line of (r.stderr ?? '').split('\n').filter(Boolean)) {
      if (line.startsWith('Error: ')) log.error(line.slice(7));
      else if (line.startsWith('Warn: ')) log.warn(line.slice(6));
      else log.info(line);
    }
    const pidLine = /^(\d+)$/m.exec(r.stdout ?? '');
    if (r.error) throw new DumpError(`cannot run the restore helper: ${r.error.message}`);
    if (!pidLine) {
      const msg = 'restore failed';
      if (!/Error: /.test(r.stderr ?? '')) log.error(`${msg} (helper ${r.signal ? `killed by ${r.signal}` : `exit ${r.status}`})`);
      throw new DumpError(msg);
    }
    const pid = Number(pidLine[1]);
    if (opts.pidfile) writeFileSync(opts.pidfile, `${pid}\n`);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    log.info(`Restore finished in ${ms.toFixed(1)} ms`);
    return { pid, tasks: plan.tasks.length, threads, pagesBytes, ms, exitCode: opts.detached ? undefined : r.status ?? 1 };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
