// --action-script: criu's hook points. Each script runs with CRTOOLS_SCRIPT_ACTION (the hook),
// CRTOOLS_IMAGE_DIR and, once the tree is known, CRTOOLS_INIT_PID, in the work dir; scripts run in
// the reverse order of the options, as criu runs them, and one that fails fails the command.
import { spawnSync } from 'node:child_process';
import { DumpError, type Log } from '../log.js';

export type Hook = 'pre-dump' | 'post-dump' | 'pre-restore' | 'post-restore' | 'pre-resume' | 'post-resume' | 'network-lock' | 'network-unlock';

/** netLock/netUnlock: around the lock of the tree's own network namespace (criu's network_lock/unlock) */
export interface DumpHooks { preDump(): void; postDump(): void; netLock(): void; netUnlock(): void }

export class ActionScripts {
  constructor(readonly scripts: string[], readonly imagesDir: string, readonly workDir: string, private log: Log) {}

  run(hook: Hook, initPid?: number): void {
    // criu adds each script at the head of its list
    for (const s of [...this.scripts].reverse()) {
      this.log.debug(`running ${hook} script ${s}`);
      const env: NodeJS.ProcessEnv = { ...process.env, CRTOOLS_SCRIPT_ACTION: hook, CRTOOLS_IMAGE_DIR: this.imagesDir };
      if (initPid !== undefined) env.CRTOOLS_INIT_PID = String(initPid);
      // the script's output goes where ours does (stdout to our stderr: our stdout may carry --display-stats)
      const r = spawnSync(s, [], { cwd: this.workDir, env, stdio: ['ignore', 2, 2] });
      if (r.error) throw new DumpError(`action script ${s} (${hook}): ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`);
      if (r.status !== 0) throw new DumpError(`action script ${s} (${hook}) ${r.signal ? `was killed by ${r.signal}` : `exited with ${r.status}`}`);
    }
  }

  dumpHooks(pid: number): DumpHooks | undefined {
    if (!this.scripts.length) return undefined;
    return { preDump: () => this.run('pre-dump', pid), postDump: () => this.run('post-dump', pid), netLock: () => this.run('network-lock', pid), netUnlock: () => this.run('network-unlock', pid) };
  }

  /** the restore helper runs post-restore, pre-resume and post-resume itself, while it holds the tree */
  restoreHooks(): { preRestore(): void; scripts: string[]; imagesDir: string; workDir: string } | undefined {
    if (!this.scripts.length) return undefined;
    return { preRestore: () => this.run('pre-restore'), scripts: [...this.scripts].reverse(), imagesDir: this.imagesDir, workDir: this.workDir };
  }
}
