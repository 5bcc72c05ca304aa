// crit: the CRIU image tool. Command names, options and outputs follow
// upstream CRIT; errors are one line naming file, entry and offset (or JSON path).
import { createRequire } from 'node:module';
import yargs from 'yargs';
import { ImageError } from '@ckpt/images';
import { decode, encode, EXPLORERS, explore, info } from './commands.js';

const require = createRequire(import.meta.url);
const VERSION: string = require('../package.json').version;

function fail(e: unknown): never {
  if (e instanceof ImageError) process.stderr.write(`crit: ${e.describe()}\n`);
  else {
    const err = e as NodeJS.ErrnoException;
    const what = err.path ? `${err.path}: ` : '';
    const msg = err.code === 'ENOENT' ? 'no such file or directory' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    process.stderr.write(`crit: ${what}${msg}\n`);
    if (process.env.CRIT_DEBUG) process.stderr.write(`${err.stack}\n`);
  }
  process.exit(1);
}

const warn = (msg: string) => process.stderr.write(`crit: warning: ${msg}\n`);

export async function main(argv: string[]): Promise<void> {
  const cli = yargs(argv)
    .scriptName('crit')
    .usage('$0 <command> [options]\n\nCRiu Image Tool: read, write and explore CRIU checkpoint images.')
    .version(`${VERSION} (CRIU 4.2 image format)`)
    .command('decode', 'convert a criu image from binary to JSON', (y) =>
      y.option('in', { alias: 'i', type: 'string', describe: 'image to decode (default: stdin)' })
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
      y.positional('in', { type: 'string', demandOption: true, describe: 'image file' }),
    (a) => info(a as { in: string }))
    .command('x <dir> <what>', 'explore an image directory', (y) =>
      y.positional('dir', { type: 'string', demandOption: true, describe: 'image directory' })
        .positional('what', { choices: EXPLORERS, demandOption: true, describe: 'ps: process tree; fds: open files; mems: mappings; rss: dumped pages per mapping' })
        .option('page-size', { type: 'number', default: 4096, describe: 'page size of the dumping host (rss)' })
        .example('$0 x /tmp/ckpt ps', 'the process tree of a dump')
        .example('$0 x /tmp/ckpt mems', 'every mapping of every task'),
    (a) => explore({ dir: a.dir as string, what: a.what as string, pageSize: a['page-size'] }))
    .command('show <in>', 'convert a criu image from binary to human-readable JSON', (y) =>
      y.positional('in', { type: 'string', demandOption: true, describe: 'image file' })
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
      process.stderr.write(`crit: error: ${msg}\nRun 'crit --help' for usage.\n`);
      process.exit(argv.length === 0 ? 1 : 2);
    });
  try {
    await cli.parseAsync();
  } catch (e) {
    fail(e);
  }
}
