#!/usr/bin/env node
// Builds the native core (top-level binding.gyp) with node-gyp. Uses the headers installed beside
// this node binary when present, so no download is needed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const args = ['rebuild', '--loglevel=error'];
const prefix = dirname(dirname(process.execPath));
if (existsSync(join(prefix, 'include/node/node_api.h')) && existsSync(join(prefix, 'include/node/common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}
const gyp = process.env.npm_config_node_gyp;
const cmd = gyp ? process.execPath : 'node-gyp';
const full = gyp ? [gyp, ...args] : args;
const r = spawnSync(cmd, full, { cwd: root, stdio: 'inherit' });
if (r.error) {
  console.error(`build-native: cannot run node-gyp: ${r.error.message}`);
  process.exit(1);
}
if (r.status !== 0) process.exit(r.status ?? 1);
// the restore helper executable and its restorer blob (packages/engine/native/restore-*)
const rr = spawnSync(process.execPath, [join(root, 'packages/engine/native/restore-build.mjs')], { stdio: 'inherit' });
process.exit(rr.status ?? 1);
