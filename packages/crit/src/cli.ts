// crit: the CRIU image tool. Command names, options and outputs follow
// upstream CRIT; errors are one line naming file, entry and offset (or JSON path).
import { createRequire } from 'node:module';
import { IMAGE_FORMAT, ImageError } from '@ckpt/images';
import yargs from './yargs.cjs';
import { decode, encode, EXPLORERS, explore, info } from './commands.js';
import { diffCommand } from './diff/command.js';
import { DIR_SECTIONS } from './diff/model.js';
import { editCommand, setCommand } from './edit/command.js';
import { xOptionsProblem } from './explore/options.js';
import { safeText } from './render/escape.js';
import { exploreMore, MORE_EXPLORERS, needsMore } from './explore/x-commands.js';
import { inspectCommand } from './inspect/command.js';

const require = createRequire(import.meta.url);
const VERSION: string = require('../package.json').version;

/** The part of yargs 17's internal API that main() reaches into. */
interface YargsInternals {
  getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } | undefined };
}

/** A system call's error as one line: "path: permission denied", not Node's "EACCES: permission denied, open 'path'". */
function errnoText(err: NodeJS.ErrnoException): string {
  const what = err.path ? `${err.path}: ` : '';
  if (err.code === 'EISDIR') return `${what}is a directory`;
  return what + plainErrno(err.message);
}

/** Node's "ECODE: text, syscall 'path'" (also inside the messages of the images library) as its text. */
const plainErrno = (msg: string) => msg.replace(/\bE[A-Z0-9]+: ([^,]+), \w+(?: '[^']*')?(?: -> '[^']*')?/, '$1');

// names and messages can hold text from an image (or a hostile file name): escaped, one line
function report(e: unknown): void {
  const err = e as NodeJS.ErrnoException;
  const line = e instanceof ImageError ? plainErrno(e.describe()) : errnoText(err);
  process.stderr.write(`crit: ${safeText(line)}\n`);
  if (!(e instanceof ImageError) && process.env.CRIT_DEBUG) process.stderr.write(`${err.stack}\n`);
}

/** A command line that cannot be right: one line and a hint, exit 2 (1 when nothing was given at all). */
function usageError(msg: string, argv: string[]): never {
  process.stderr.write(`crit: error: ${msg}\nRun 'crit --help' for usage.\n`);
  process.exit(argv.length === 0 ? 1 : 2);
}

function fail(e: unknown): never {
  report(e);
  process.exit(1);
}

export async function main(argv: string[]): Promise<void> {
  // Warnings are printed once the command has succeeded: a failing command prints one line.
  const warnings: string[] = [];
  const warn = (msg: string) => warnings.push(`crit: warning: ${safeText(msg)}\n`);
  const cli = yargs(argv)
    .scriptName('crit')
    .usage('$0 <command> [options]\n\nCRiu Image Tool: read, write and explore CRIU checkpoint images.')
    .version(`${VERSION} (${IMAGE_FORMAT} image format)`)
    .command('decode', 'convert a criu image from binary to JSON', (y) =>
      y.option('in', { alias: 'i', type: 'string', describe: 'image to decode (default: stdin); may be inside a checkpoint archive (ckpt.tar.gz/pstree.img)' })
        .option('out', { alias: 'o', type: 'string', describe: 'where to write the JSON (default: stdout)' })
        .option('pretty', { type: 'boolean', describe: 'multi-line, indented, with field-specific forms (hex, flags, addresses)' })
        .example('$0 decode -i pstree.img', 'one-line JSON of the process tree image')
        .example('$0 decode -i mm-42.img --pretty -o mm.json', 'readable JSON, written atomically to mm.json'),
    (a) => decode(a, warn))
    .command('encode', 'convert JSON (plain or pretty) back to a binary criu image', (y) =>
      y.option('in', { alias: 'i', type: 'string', describe: 'JSON to encode (default: stdin)' })
        .option('out', { alias: 'o', type: 'string', describe: 'where to write the image (default: stdout); written atomically' })
        .example('$0 decode -i fs-42.img --pretty | $0 encode -o fs-42.img', 'round trip: gives back the same bytes'),
    (a) => encode(a))
    .command('info <in>', 'show the type of an image and how many entries it holds', (y) =>
      y.positional('in', { type: 'string', demandOption: true, describe: 'image file (ckpt.tar.zst/core-1.img: an image in a checkpoint archive)' }),
    (a) => info(a as { in: string }))
    .command('x <dir> <what>', 'explore an image directory', (y) =>
      y.positional('dir', { type: 'string', demandOption: true, describe: 'image directory, or a container checkpoint: archive (.tar, .tar.gz, .tar.zst) or extracted' })
        .positional('what', {
          choices: [...EXPLORERS, ...MORE_EXPLORERS], demandOption: true,
          describe: 'ps: process tree; fds: open files; mems: mappings; rss: dumped pages per mapping; sk: sockets; mem: memory contents',
        })
        .option('page-size', { type: 'number', describe: 'page size of the dumping host (rss, mem, ps --cmdline/--env; default 4096)' })
        .option('json', { type: 'boolean', describe: 'machine-readable output (every explorer)' })
        .option('cmdline', { type: 'boolean', describe: 'ps: show argv, read from the dumped memory' })
        .option('env', { type: 'boolean', describe: 'ps: show the environment, read from the dumped memory' })
        .option('pid', { type: 'number', describe: 'only this task (ps: and its descendants; sk: the sockets it holds); mem: required' })
        .option('addr', { type: 'string', describe: 'mem: start address (0x hex or decimal)' })
        .option('len', { type: 'string', describe: 'mem: bytes to show from --addr (default 256)' })
        .option('search', { alias: 's', type: 'string', describe: 'mem: find this string (UTF-8) in the memory' })
        .option('regex', { alias: 'r', type: 'string', describe: 'mem: find this regular expression (over bytes as latin1)' })
        .option('context', { alias: 'c', type: 'number', describe: 'mem: bytes shown around each match (default 16)' })
        .option('color', { type: 'boolean', describe: 'colour (default: on a terminal, unless NO_COLOR is set); --no-color turns it off' })
        .example('$0 x /tmp/ckpt ps', 'the process tree of a dump')
        .example('$0 x ckpt.tar.zst ps', 'the same, from a container checkpoint (podman container checkpoint --export)')
        .example('$0 x /tmp/ckpt ps --cmdline --env', 'the tree with argv and environment of every task')
        .example('$0 x /tmp/ckpt mems', 'every mapping of every task')
        .example('$0 x /tmp/ckpt sk', 'sockets: kind, state, addresses, queued bytes, owning fds')
        .example('$0 x /tmp/ckpt mem --pid 42 --addr 0x7ffd0000 --len 64', 'hexdump -C of 64 bytes of task 42')
        .example('$0 x /tmp/ckpt mem --pid 42 --search password --context 32', 'where a string is in the memory of task 42')
        .example('$0 x /tmp/ckpt fds --pid 42', 'the open files of task 42')
        .example('$0 x /tmp/ckpt fds --json', 'open files as JSON')
        .epilog('Options that do not apply to the explorer given are refused. Tables fit the terminal; in a pipe they are plain columns.'),
    (a) => {
      const problem = xOptionsProblem(a.what as string, a);
      if (problem) usageError(problem, argv);
      const o = {
        dir: a.dir as string, what: a.what as string, pageSize: a['page-size'], json: a.json, color: a.color as boolean | undefined,
        cmdline: a.cmdline, env: a.env, pid: a.pid, addr: a.addr, len: a.len, search: a.search, regex: a.regex, context: a.context,
      };
      return needsMore(o) ? exploreMore(o) : explore(o);
    })
    .command('inspect <paths..>', 'show a container checkpoint (archive or extracted) as checkpointctl inspect does', (y) =>
      y.positional('paths', { type: 'string', array: true, demandOption: true, describe: 'checkpoint archive (.tar, .tar.gz, .tar.zst) or directory' })
        .option('ps-tree', { type: 'boolean', describe: 'the process tree' })
        .option('ps-tree-cmd', { type: 'boolean', describe: 'the process tree with each command line, read from the dumped memory' })
        .option('ps-tree-env', { type: 'boolean', describe: 'the process tree with each environment, read from the dumped memory' })
        .option('files', { type: 'boolean', describe: 'open files of each task (implies --ps-tree)' })
        .option('sockets', { type: 'boolean', describe: 'sockets of each task (implies --ps-tree)' })
        .option('mounts', { type: 'boolean', describe: 'the mounts of the container (spec.dump)' })
        .option('stats', { type: 'boolean', describe: "CRIU's dump statistics (stats-dump)" })
        .option('metadata', { type: 'boolean', describe: 'the annotations of the container (spec.dump)' })
        .option('all', { type: 'boolean', describe: 'all of the above' })
        .option('pid', { type: 'number', describe: 'only this task and its descendants (implies --ps-tree)' })
        .option('json', { type: 'boolean', describe: 'machine-readable output (a list, one object per checkpoint)' })
        .option('color', { type: 'boolean', describe: 'colour (default: on a terminal, unless NO_COLOR is set); --no-color turns it off' })
        .example('$0 inspect ckpt.tar.zst', 'container, image, engine, times and sizes of a Podman export')
        .example('$0 inspect ckpt.tar --ps-tree --files --sockets', 'with every task, its open files and sockets')
        .example('$0 inspect ckpt.tar.gz --all --json', 'everything, as JSON'),
    (a) => {
      if (a.pid !== undefined && (!Number.isSafeInteger(a.pid) || a.pid <= 0)) throw new ImageError(`--pid: expected a task id, got ${a.pid}`);
      return inspectCommand({
        paths: a.paths as string[], psTree: a['ps-tree'], psTreeCmd: a['ps-tree-cmd'], psTreeEnv: a['ps-tree-env'], files: a.files, sockets: a.sockets, mounts: a.mounts, stats: a.stats,
        metadata: a.metadata, all: a.all, pid: a.pid, json: a.json, color: a.color as boolean | undefined,
      });
    })
    .command('diff <a> <b>', 'compare two dumps (directories) or two image files by meaning', (y) =>
      y.positional('a', { type: 'string', demandOption: true, describe: 'image directory, checkpoint archive, or image file' })
        .positional('b', { type: 'string', demandOption: true, describe: 'image directory, checkpoint archive, or image file' })
        .option('json', { type: 'boolean', describe: 'machine-readable output (schema "crit-diff/1")' })
        .option('ignore', {
          type: 'string', array: true, describe:
            'leave out: a section, "pids" (match tasks by tree position), "timestamps", a field name (pos), or a JSON path with * and ** (repeatable)',
        })
        .option('only', { type: 'string', array: true, choices: [...DIR_SECTIONS], describe: 'compare only these sections (repeatable)' })
        .option('page-size', { type: 'number', describe: 'page size of the dumping host (directories; default 4096)' })
        .option('color', { type: 'boolean', describe: 'colour (default: on a terminal, unless NO_COLOR is set); --no-color turns it off' })
        .example('$0 diff ckpt-1 ckpt-2', 'what changed between two dumps, as a tree')
        .example('$0 diff ckpt-1 ckpt-2 --ignore pids --ignore stats --only fds --only sockets', 'CI: assert no fd or socket changed')
        .example('$0 diff a/files.img b/files.img --ignore "entries[*].reg.pos"', 'two images, entry by entry')
        .example('$0 diff ckpt-1 ckpt-2 --json | jq .summary', 'counts per section')
        .epilog('Exit status: 0 when equal, 1 when different, 2 on error (as diff(1)).'),
    async (a) => {
      let status: number;
      try {
        status = await diffCommand({
          a: a.a as string, b: a.b as string, json: a.json, ignore: a.ignore as string[] | undefined, only: a.only as string[] | undefined,
          color: a.color as boolean | undefined, pageSize: a['page-size'],
        });
      } catch (e) {
        report(e);
        status = 2;
      }
      process.exitCode = status;
    })
    .command('set <file> <path> <value>', 'change one field of an image (checked by the schema, written atomically)', (y) =>
      y.positional('file', { type: 'string', demandOption: true, describe: 'image file' })
        .positional('path', { type: 'string', demandOption: true, describe: 'JSON path of the field, as decode prints it (entries[0].reg.name)' })
        .positional('value', { type: 'string', demandOption: true, describe: 'new value: JSON (numbers, lists, "strings") or bare text' })
        .option('pretty-input', { type: 'boolean', describe: 'VALUE is in the pretty form of crit show (0x hex, flag names, IP addresses, major:minor)' })
        .option('dry-run', { alias: 'n', type: 'boolean', describe: 'check and report, but do not write' })
        .option('json', { type: 'boolean', describe: 'report the change as JSON' })
        .option('color', { type: 'boolean', describe: 'colour (default: on a terminal, unless NO_COLOR is set)' })
        .example('$0 set files.img entries[4].isk.src_addr 10.0.0.2 --pretty-input', 'move a socket to another IP address')
        .example('$0 set files.img entries[2].reg.name \'"/new/path"\'', 'point an open file at another path')
        .example('$0 set core-42.img entries[0].thread_info.gpregs.r12 0x1234 --pretty-input', 'change a register'),
    (a) => setCommand({
      file: a.file as string, path: a.path as string, value: String(a.value), prettyInput: a['pretty-input'], dryRun: a['dry-run'],
      json: a.json, color: a.color as boolean | undefined,
    }))
    .command('edit <file>', 'edit an image as pretty JSON in $VISUAL/$EDITOR; checked and written atomically', (y) =>
      y.positional('file', { type: 'string', demandOption: true, describe: 'image file' })
        .option('json', { type: 'boolean', describe: 'report the changes as JSON' })
        .option('color', { type: 'boolean', describe: 'colour (default: on a terminal, unless NO_COLOR is set)' })
        .example('EDITOR=nano $0 edit fs-42.img', 'change the umask, cwd id, ... of a task')
        .epilog('A bad edit (wrong type, unknown enum or flag name, bad IP address, unknown field) is refused with its JSON path; the image is left unchanged.'),
    (a) => editCommand({ file: a.file as string, json: a.json, color: a.color as boolean | undefined }))
    .completion('completion', 'print a bash/zsh completion script (source <(crit completion))')
    .command('show <in>', 'convert a criu image from binary to human-readable JSON', (y) =>
      y.positional('in', { type: 'string', demandOption: true, describe: 'image file (ckpt.tar.zst/core-1.img: an image in a checkpoint archive)' })
        .option('nopl', { type: 'boolean', describe: 'do not show entry payloads (pipe data, queues, ...), only their size' })
        .example('$0 show core-42.img', 'registers, signal state and more, readable'),
    (a) => decode({ in: a.in as string, pretty: true, nopl: a.nopl }, warn))
    .demandCommand(1, 'too few arguments (give a command)')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .wrap(Math.min(100, process.stdout.columns ?? 80))
    .epilog('Images are read and written exactly as upstream CRIT does; see the crit README for where we differ.')
    .fail((msg, err) => {
      if (err) fail(err);
      usageError(msg, argv);
    });
  // yargs renders the whole help text after every command in case a failing
  // async handler shows it (~4 ms a run); ours never do (see .fail above)
  const usage = (cli as unknown as YargsInternals).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
  try {
    await cli.parseAsync();
  } catch (e) {
    fail(e);
  }
  for (const w of warnings) process.stderr.write(w);
}
