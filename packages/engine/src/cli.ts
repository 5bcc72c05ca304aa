// The `ckpt` command line: CRIU's option names for check, dump and restore.
import type { Argv } from 'yargs';
import yargs from './yargs.cjs';
import { isAbsolute, join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { IMAGE_FORMAT } from '@ckpt/images';
// check and dump are loaded by their commands only: restore does not pay for the native addon's load
import { parseInheritFd, restore, RestoreError } from './restore/index.js';
import { DumpError, Log, memoryProgress } from './log.js';
import { dumpStatsText, restoreStatsText } from './stats.js';

const VERSION: string = createRequire(import.meta.url)('../package.json').version;

/** -v and -o, as CRIU has them on every command that works on an images dir. */
function withLogOptions<T>(y: Argv<T>) {
  return y
    .option('verbosity', { alias: 'v', type: 'number', default: 2, describe: 'log level 0..4' })
    .option('log-file', { alias: 'o', type: 'string', describe: 'log file (relative to the images dir)' });
}

function openLog(verbosity: number, logFile: string | undefined, dir: string): Log {
  return new Log(verbosity, logFile ? (isAbsolute(logFile) ? logFile : join(dir, logFile)) : undefined);
}

export async function main(argv: string[]): Promise<void> {
  try {
    await yargs(argv)
      .scriptName('ckpt')
      .usage('$0 <command> [options]')
      .version(`${VERSION} (${IMAGE_FORMAT} image format)`)
      .command('check', 'check whether the kernel supports what dump and restore need',
        (y) => y.option('all', { type: 'boolean', default: false, describe: 'also check features needed only for some process trees' })
          .option('extra', { type: 'boolean', default: false, hidden: true })
          .example('$0 check', 'prints "Looks good." when dump and restore can work here, else what is missing and what it breaks'),
        async (a) => {
          const { check } = await import('./check.js');
          const r = check(a.all || a.extra);
          for (const l of r.lines) console.log(l);
          process.exitCode = r.ok ? 0 : 1;
        })
      .command('dump', 'checkpoint a process tree into an images directory',
        (y) => withLogOptions(y)
          .option('tree', { alias: 't', type: 'number', demandOption: true, describe: 'PID of the root of the tree to dump' })
          .option('images-dir', { alias: 'D', type: 'string', default: '.', describe: 'directory for the images' })
          .option('leave-running', { alias: 'R', type: 'boolean', default: false, describe: 'let the tasks go on after the dump' })
          .option('shell-job', { alias: 'j', type: 'boolean', default: false, describe: 'allow a root that is not a session leader (run from a shell)' })
          .option('ext-unix-sk', { type: 'boolean', default: false, describe: 'allow unix sockets connected to peers outside the tree' })
          .option('file-locks', { alias: 'l', type: 'boolean', default: false, describe: 'dump file locks (refused without it)' })
          .option('display-stats', { type: 'boolean', default: false, describe: 'print the dump\'s times and page counts (as CRIU; kept in DIR/stats-dump)' })
          .example('$0 dump -t 4242 -D /tmp/ckpt', 'freeze the tree rooted at 4242 into /tmp/ckpt; the tree is killed afterwards')
          .example('$0 dump -t 4242 -D /tmp/ckpt -R -v4 -o dump.log', 'the same, leaving the tree running, with a detailed log')
          .example('$0 dump -t 4242 -D /tmp/ckpt -j', 'a program started from a shell (its terminal belongs to the shell)')
          .epilog('On a terminal, a task with more than 64 MiB of memory shows how far the copy of its memory is (not with -v0).\nLook at a dump with `crit x DIR ps|fds|mems`; bring it back with `ckpt restore -D DIR`.'),
        async (a) => {
          const dir = a['images-dir'];
          mkdirSync(dir, { recursive: true });
          const log = openLog(a.verbosity, a['log-file'], dir);
          try {
            const { dump } = await import('./dump.js');
            const r = await dump({
              pid: a.tree, dir, leaveRunning: a['leave-running'], shellJob: a['shell-job'], extUnixSk: a['ext-unix-sk'], fileLocks: a['file-locks'], log,
              progress: a.verbosity > 0 ? memoryProgress() : undefined,
            });
            if (a['display-stats']) process.stdout.write(dumpStatsText(r.stats));
          } catch (e) {
            if (!(e instanceof DumpError)) log.error((e as Error).stack ?? String(e));
            process.exitCode = 1;
          }
        })
      .command('restore', 'restore a process tree from an images directory',
        (y) => withLogOptions(y)
          .option('images-dir', { alias: 'D', type: 'string', default: '.', describe: 'directory with the images' })
          .option('restore-detached', { alias: 'd', type: 'boolean', default: false, describe: 'exit once the tree is restored (it is reparented)' })
          .option('pidfile', { type: 'string', describe: 'write the root task\'s pid here' })
          .option('shell-job', { alias: 'j', type: 'boolean', default: false, describe: 'the root was not a session leader (run from a shell)' })
          .option('ext-unix-sk', { type: 'boolean', default: false, describe: 'reconnect unix sockets to peers outside the tree' })
          .option('file-locks', { alias: 'l', type: 'boolean', default: false, describe: 'restore file locks (left out without it, as CRIU does)' })
          .option('display-stats', { type: 'boolean', default: false, describe: 'print the restore\'s times and page counts (as CRIU; without -d, once the tree has ended)' })
          .option('inherit-fd', { type: 'string', array: true, describe: 'fd[N]:RESOURCE - hand our fd N to the restored task in place of RESOURCE (socket:[INO], pipe:[INO] or a path)' })
          .example('$0 restore -D /tmp/ckpt -d', 'bring the tree back with its PIDs and let it run on its own')
          .example('$0 restore -D /tmp/ckpt -j', 'a shell job: it gets this terminal and stays in the foreground')
          .example('$0 restore -D /tmp/ckpt --inherit-fd "fd[3]:socket:[85705]"', 'hand our fd 3 to the task in place of the dumped socket 85705')
          .epilog('The PIDs recorded in the images must be free; the images are only read.'),
        (a) => {
          const dir = a['images-dir'];
          const log = openLog(a.verbosity, a['log-file'], dir);
          try {
            let inheritFds;
            try {
              inheritFds = (a['inherit-fd'] ?? []).map((x) => parseInheritFd(String(x)));
            } catch (e) {
              if (e instanceof RestoreError) { log.error(e.message); process.exitCode = 1; return; }
              throw e;
            }
            const r = restore({ dir, detached: a['restore-detached'], pidfile: a.pidfile, shellJob: a['shell-job'], extUnixSk: a['ext-unix-sk'], inheritFds, fileLocks: a['file-locks'], log });
            if (a['display-stats']) process.stdout.write(restoreStatsText(r.stats));
            process.exitCode = r.exitCode ?? 0;
          } catch (e) {
            if (!(e instanceof DumpError)) log.error((e as Error).stack ?? String(e));
            process.exitCode = 1;
          }
        })
      .demandCommand(1, 'name a command: check, dump or restore')
      .strict()
      .help()
      .parseAsync();
  } catch (e) {
    console.error(`ckpt: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
