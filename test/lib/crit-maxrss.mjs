// Runs crit in this process and reports its peak RSS (KiB) as the last stderr line.
import { writeSync } from 'node:fs';
import { main } from '../../packages/crit/dist/cli.js';

process.on('exit', () => writeSync(2, `maxrss=${process.resourceUsage().maxRSS}\n`));
await main(process.argv.slice(2));
