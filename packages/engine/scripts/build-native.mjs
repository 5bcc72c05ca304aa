#!/usr/bin/env node
// Builds the engine's native parts into this package's build/Release: the addon (binding.gyp, node-gyp)
// and the restore helper (native/restore-build.mjs). Run at install (the package's "install" script) and
// by the checkout's `npm run build`. A first build configures; later ones only remake what changed, so
// the checkout's install and build do not compile twice. Uses the headers installed beside this node
// binary when present, so no download is needed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const gypArgs = ['--loglevel=error'];
const prefix = dirname(dirname(process.execPath));
if (existsSync(join(prefix, 'include/node/node_api.h')) && existsSync(join(prefix, 'include/node/common.gypi'))) {
  gypArgs.push(`--nodedir=${prefix}`);
}
// npm hands its own node-gyp to the scripts it runs; outside npm, node-gyp from PATH
const gyp = process.env.npm_config_node_gyp;
function nodeGyp(command) {
  const r = gyp ? spawnSync(process.execPath, [gyp, command, ...gypArgs], { cwd: pkg, stdio: 'inherit' })
    : spawnSync('node-gyp', [command, ...gypArgs], { cwd: pkg, stdio: 'inherit' });
  if (r.error) {
    console.error(`build-native: cannot run node-gyp: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}
// configured for this node's ABI (config.gypi records it): build what changed; else from scratch
const configured = existsSync(join(pkg, 'build/Makefile'))
  && readConfig().includes(`"node_module_version": ${process.versions.modules},`);
nodeGyp(configured ? 'build' : 'rebuild');
const r = spawnSync(process.execPath, [join(pkg, 'native/restore-build.mjs')], { stdio: 'inherit' });
process.exit(r.status ?? 1);

function readConfig() {
  try {
    return readFileSync(join(pkg, 'build/config.gypi'), 'utf8');
  } catch {
    return '';
  }
}
