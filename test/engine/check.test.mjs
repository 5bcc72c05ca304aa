// ckpt check: probes the kernel features; ends with "Looks good." and exit code 0 on this machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ckpt, needPtrace } from './helpers.mjs';

test('ckpt --version names our version and the image format it writes', () => {
  const r = ckpt(['--version']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\d+\.\d+\.\d+ \(CRIU 4\.2 image format\)\n$/);
});

test('ckpt check says Looks good.', (t) => {
  if (!needPtrace(t)) return;
  const r = ckpt(['check']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(r.stdout.trim().split('\n').pop(), 'Looks good.');
});

test('ckpt check --all names each missing feature with what it breaks', (t) => {
  if (!needPtrace(t)) return;
  const r = ckpt(['check', '--all']);
  const lines = r.stdout.trim().split('\n');
  for (const l of lines.slice(0, -1)) {
    if (/^(Warn|Error):/.test(l)) assert.match(l, /breaks/);
  }
  const last = lines.pop();
  if (r.status === 0) assert.equal(last, 'Looks good.');
  else assert.match(r.stdout, /some kernel features are missing/);
});
