#!/usr/bin/env node
// Proof that a change to the restore planning changes no plan: every dump dir found under the roots (a
// dir with inventory.img) is planned by two builds of the engine under several option sets, and the
// sha256 of encodePlan's bytes (what the helper gets) and of the whole plan (ghosts, caller tty,
// inherited fds included; keys sorted), or of the error, must be the same. Both builds run on the same
// dir one right after the other, so files that other tests create or remove meanwhile cannot make a
// difference of their own.
//
//   cp -r packages/engine/dist packages/engine/base.tmp      # the build before the change (*.tmp: not in git)
//   CKPT_TEST_KEEP=$PWD/test/.tmp/before node --test test/engine/<suite>.test.mjs   # dumps to plan (kept)
//   ... the change; npm run build ...
//   node packages/engine/scripts/plan-hashes.mjs --base packages/engine/base.tmp test/.tmp ../shared/corpus
//
// Prints the number of dirs, plans and errors, the sha256 of each build's hash list, and every plan that
// differs (exit 1). --new DIST compares with another build than packages/engine/dist; --list FILE writes
// the base build's hash list.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeImage } from '@ckpt/images';

let flags, args;
try {
  ({ values: flags, positionals: args } = parseArgs({ options: { base: { type: 'string' }, new: { type: 'string' }, list: { type: 'string' } }, allowPositionals: true }));
} catch (e) {
  console.error(`${e.message}`);
  process.exit(2);
}
const base = flags.base;
const fresh = flags.new ?? resolve(dirname(fileURLToPath(import.meta.url)), '../dist');
const listFile = flags.list;
if (!base || !args.length) {
  console.error('usage: plan-hashes.mjs --base DIST [--new DIST] [--list FILE] ROOT...');
  process.exit(2);
}

const load = async (dist) => {
  const p = join(resolve(dist), 'restore/plan.js');
  if (!existsSync(p)) {
    console.error(`plan-hashes: no engine build at ${dist} (${p} is missing)`);
    process.exit(2);
  }
  return import(pathToFileURL(p).href);
};
const engines = [await load(base), await load(fresh)];

/** dump dirs under root, sorted */
function dumpDirs(root, out = []) {
  let ents;
  try { ents = readdirSync(root, { withFileTypes: true }); } catch { return out; }
  if (ents.some((e) => e.isFile() && e.name === 'inventory.img')) out.push(root);
  for (const e of ents.sort((a, b) => (a.name < b.name ? -1 : 1))) if (e.isDirectory()) dumpDirs(join(root, e.name), out);
  return out;
}

/** --inherit-fd names of files the dump's tasks have open (a path without its /, pipe:[INO], socket:[INO]): one of each kind */
function inheritCandidates(dir) {
  const decode = (f) => { try { return decodeImage(readFileSync(join(dir, f))).entries; } catch { return []; } };
  const files = decode('files.img');
  const open = new Set(readdirSync(dir).filter((f) => /^fdinfo-\d+\.img$/.test(f)).flatMap((f) => decode(f).map((e) => Number(e.id))));
  const keys = [];
  const reg = files.find((f) => f.reg && open.has(Number(f.id)) && String(f.reg.name).length > 1);
  if (reg) keys.push(String(reg.reg.name).replace(/^\//, ''));
  const pipe = files.find((f) => f.pipe);
  if (pipe) keys.push(`pipe:[${pipe.pipe.pipe_id}]`);
  const fifo = files.find((f) => f.fifo);
  if (fifo) keys.push(`pipe:[${fifo.fifo.pipe_id}]`);
  const usk = files.find((f) => f.usk);
  if (usk) keys.push(`socket:[${usk.usk.ino}]`);
  return [...new Set(keys)].map((key, i) => ({ fd: 100 + i, key }));
}

const OPTION_SETS = [
  ['plain', () => ({})],
  ['detached', () => ({ detached: true })],
  ['shell-job', () => ({ shellJob: true })],
  ['ext-unix-sk', () => ({ extUnixSk: true })],
  ['file-locks', () => ({ fileLocks: true })],
  ['all', () => ({ detached: true, shellJob: true, extUnixSk: true, fileLocks: true })],
  ['inherit', (dir) => ({ shellJob: true, extUnixSk: true, inheritFds: inheritCandidates(dir) })],
  ['inherit-unused', () => ({ inheritFds: [{ fd: 99, key: 'pipe:[0]' }] })],
];

const sha = (b) => createHash('sha256').update(b).digest('hex');
/** the plan as JSON with sorted keys; bigints and buffers spelled out */
function canonical(v) {
  if (typeof v === 'bigint') return `${v}n`;
  if (Buffer.isBuffer(v)) return `hex:${v.toString('hex')}`;
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  return v;
}

function planHash(engine, o) {
  try {
    const plan = engine.buildPlan({ detached: false, shellJob: false, extUnixSk: false, ...o });
    return `plan ${sha(engine.encodePlan(plan))} ${sha(JSON.stringify(canonical(plan)))}`;
  } catch (e) {
    const kind = e instanceof engine.RestoreError ? 'error' : `throw ${e?.constructor?.name}`;
    return `${kind} ${sha(String(e?.message))} ${JSON.stringify(String(e?.message).slice(0, 160))}`;
  }
}

const dirs = [...new Set(args.flatMap((r) => dumpDirs(resolve(r))))];
const lists = [[], []];
let plans = 0, errors = 0;
const diffs = [];
for (const dir of dirs) {
  for (const [name, make] of OPTION_SETS) {
    const o = { dir, ...make(dir) };
    const [a, b] = engines.map((e) => planHash(e, o));
    lists[0].push(`${a} ${name} ${dir}`);
    lists[1].push(`${b} ${name} ${dir}`);
    if (a.startsWith('plan')) plans++; else errors++;
    if (a !== b) diffs.push(`${name} ${dir}\n  base: ${a}\n  new:  ${b}`);
  }
}
if (listFile) writeFileSync(listFile, lists[0].join('\n') + '\n');
console.log(`${dirs.length} dump dirs x ${OPTION_SETS.length} option sets: ${plans} plans, ${errors} errors`);
console.log(`base ${base}: hash list sha256 ${sha(lists[0].join('\n'))}`);
console.log(`new  ${fresh}: hash list sha256 ${sha(lists[1].join('\n'))}`);
for (const d of diffs) console.log(`DIFFERS ${d}`);
if (diffs.length) process.exit(1);
console.log('every plan and error identical');
