// The `ckpt` command line: criu 4.2's (cli/options.ts), for check, dump, restore and cpuinfo.
import { resolve } from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { IMAGE_FORMAT } from '@ckpt/images';
// check and dump are loaded by their commands only: restore does not pay for the native addon's load
import { parseInheritFd, restore, RestoreError } from './restore/index.js';
import { DumpError, Log, memoryProgress } from './log.js';
import { dumpStatsText, restoreStatsText } from './stats.js';
import { configSources } from './cli/config.js';
import { UsageError } from './cli/getopt.js';
import { parseCommandLine, type CliOptions } from './cli/options.js';
import { completionScript, helpText } from './cli/help.js';
import { ActionScripts } from './cli/scripts.js';
import { missingCapability } from './cli/caps.js';

const VERSION: string = createRequire(import.meta.url)('../package.json').version;

/** Paths as criu resolves them: the images dir from here, the log and pidfile from the work dir (default: the images dir). */
export function resolvePaths(o: CliOptions, cwd = process.cwd()): { dir: string; workDir: string; logFile?: string; pidfile?: string } {
  const dir = resolve(cwd, o.imagesDir);
  const workDir = o.workDir === undefined ? dir : resolve(cwd, o.workDir);
  return {
    dir, workDir,
    logFile: o.logFile === undefined ? undefined : resolve(workDir, o.logFile),
    pidfile: o.pidfile === undefined ? undefined : resolve(workDir, o.pidfile),
  };
}

export async function main(argv: string[]): Promise<void> {
  let o: CliOptions;
  try {
    if (argv[0] === 'completion' && argv.length === 1) {
      process.stdout.write(completionScript());
      return;
    }
    // criu shows the help even when a configuration file is broken
    const wantsHelp = argv.some((a) => a === '-h' || a === '--help');
    o = parseCommandLine(argv, wantsHelp ? [] : configSources(argv, process.env)).opts;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`ckpt: ${e.message} (see ckpt --help)`);
    process.exitCode = 1;
    return;
  }
  if (o.help) {
    process.stdout.write(helpText());
    return;
  }
  if (o.version) {
    console.log(`${VERSION} (${IMAGE_FORMAT} image format)`);
    return;
  }
  try {
    await run(o);
  } catch (e) {
    // a bug: still one line, with where it happened for the report
    const err = e as Error;
    console.error(`ckpt: internal error: ${err.message.split('\n')[0]} (${err.stack?.split('\n').find((l) => /^\s+at /.test(l))?.trim() ?? 'no stack'})`);
    process.exitCode = 1;
  }
}

async function run(o: CliOptions): Promise<void> {
  const p = resolvePaths(o);
  if (o.command === 'dump' || (o.command === 'cpuinfo' && o.sub === 'dump')) {
    // one level, as the images dir's parent must exist (Node's recursive mkdir spins on a /proc path)
    try {
      if (!existsSync(p.dir)) mkdirSync(p.dir);
    } catch (e) {
      console.error(`ckpt: cannot create the images dir ${p.dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      process.exitCode = 1;
      return;
    }
  }
  // criu works in the work dir: it must be there
  if (o.workDir !== undefined && !existsSync(p.workDir)) {
    console.error(`ckpt: the work dir ${p.workDir} does not exist (-W)`);
    process.exitCode = 1;
    return;
  }
  let log: Log;
  try {
    log = new Log(o.verbosity, p.logFile);
  } catch (e) {
    console.error(`ckpt: cannot open the log file ${p.logFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    process.exitCode = 1;
    return;
  }
  for (const n of o.notes) log.info(n);
  if (o.refused.length) {
    for (const r of o.refused) log.error(r);
    process.exitCode = 1;
    return;
  }
  const caps = missingCapability();
  if (caps && o.command !== 'cpuinfo') {
    log.error(caps);
    process.exitCode = 1;
    return;
  }
  switch (o.command) {
    case 'check': {
      const { check, checkFeature } = await import('./check.js');
      if (o.features.length) {
        let ok = true;
        for (const f of o.features) {
          const r = checkFeature(f);
          for (const l of r.lines) console.log(l);
          ok &&= r.ok;
        }
        process.exitCode = ok ? 0 : 1;
        return;
      }
      const r = check(o.all || o.extra || o.experimental);
      for (const l of r.lines) console.log(l);
      process.exitCode = r.ok ? 0 : 1;
      return;
    }
    case 'cpuinfo': {
      const { cpuinfoDump, cpuinfoCheck } = await import('./cli/cpuinfo.js');
      try {
        if (o.sub === 'dump') cpuinfoDump(p.dir, log);
        else cpuinfoCheck(p.dir, log);
      } catch (e) {
        if (!(e instanceof DumpError)) throw e;
        log.error(e.message);
        process.exitCode = 1;
      }
      return;
    }
    case 'dump':
      return runDump(o, p.dir, p.workDir, log);
    case 'restore':
      return runRestore(o, p, log);
  }
}

async function runDump(o: CliOptions, dir: string, workDir: string, log: Log): Promise<void> {
  const scripts = new ActionScripts(o.actionScripts, dir, workDir, log);
  try {
    const { dump } = await import('./dump.js');
    const r = await dump({
      pid: o.tree!, dir, finalState: o.finalState ?? 'dead', shellJob: o.shellJob, extUnixSk: o.extUnixSk || o.extUnixSkInodes.length > 0,
      fileLocks: o.fileLocks, tcpClose: o.tcpClose, tcpEstablished: o.tcpEstablished, skipInFlight: o.skipInFlight, timeoutMs: o.timeout * 1000,
      ghostLimit: o.ghostLimit, linkRemap: o.linkRemap, log, manageCgroups: o.manageCgroups, cgroupRoots: o.cgroupRoots, networkLock: o.networkLock,
      externalFiles: o.externalFiles,
      progress: o.verbosity > 0 ? memoryProgress() : undefined,
      hooks: scripts.dumpHooks(o.tree!),
    });
    if (o.displayStats) process.stdout.write(dumpStatsText(r.stats));
  } catch (e) {
    if (!(e instanceof DumpError)) log.error(`dump of ${o.tree}: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}

async function runRestore(o: CliOptions, p: ReturnType<typeof resolvePaths>, log: Log): Promise<void> {
  if (o.tree !== undefined) log.warn('Using -t with restore is obsolete (as in criu): the images name the tree');
  if (o.networkLock !== undefined) {
    log.warn('--network-lock will be ignored in restore command');
    log.info('Network lock method from dump will be used in restore');
  }
  const scripts = new ActionScripts(o.actionScripts, p.dir, p.workDir, log);
  try {
    let inheritFds;
    try {
      inheritFds = o.inheritFds.map((x) => parseInheritFd(x));
    } catch (e) {
      if (e instanceof RestoreError) throw new DumpError(e.message);
      throw e;
    }
    const r = restore({
      dir: p.dir, detached: o.detached, pidfile: p.pidfile, shellJob: o.shellJob, extUnixSk: o.extUnixSk || o.extUnixSkInodes.length > 0,
      inheritFds, fileLocks: o.fileLocks, tcpClose: o.tcpClose, tcpEstablished: o.tcpEstablished, leaveStopped: o.finalState === 'stopped', sibling: o.sibling, log,
      hooks: scripts.restoreHooks(), statusFd: o.statusFd, manageCgroups: o.manageCgroups, cgroupRoots: o.cgroupRoots, joinNet: o.joinNet, weakSysctls: o.weakSysctls,
    });
    if (o.displayStats) process.stdout.write(restoreStatsText(r.stats));
    process.exitCode = r.exitCode ?? 0;
  } catch (e) {
    if (!(e instanceof DumpError)) log.error(`restore from ${p.dir}: ${(e as Error).message}`);
    else if (!(e as any).logged) log.error(e.message);
    process.exitCode = 1;
  }
}
