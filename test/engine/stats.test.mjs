// --display-stats, as CRIU has it: after a dump, the numbers of stats-dump.img in CRIU's words; after a
// restore, CRIU's restore block (pages restored = the pages the pagemaps put in the tasks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeImage, taskPages } from '@ckpt/images';
import { ckpt, compile, kill, launch, needPtrace, workDir } from './helpers.mjs';
import { dumpedPidsFree, killPids } from './restore-lib.mjs';

test('dump and restore --display-stats print CRIU\'s stats blocks', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('stats');
  const h = await launch(compile('loop-dynamic', dir));
  const img = join(dir, 'img');
  try {
    const d = ckpt(['dump', '-t', String(h.pid), '-D', img, '--display-stats']);
    assert.equal(d.status, 0, d.stderr);
    const s = decodeImage(join(img, 'stats-dump')).entries[0].dump;
    const hex = (v) => `${v} (0x${Number(v).toString(16)})`;
    assert.equal(d.stdout, [
      'Displaying dump stats:',
      `Freezing time: ${s.freezing_time} us`,
      `Frozen time: ${s.frozen_time} us`,
      `Memory dump time: ${s.memdump_time} us`,
      `Memory write time: ${s.memwrite_time} us`,
      `IRMAP resolve time: ${s.irmap_resolve} us`,
      `Memory pages scanned: ${hex(s.pages_scanned)}`,
      `Memory pages skipped from parent: ${hex(s.pages_skipped_parent)}`,
      `Memory pages written: ${hex(s.pages_written)}`,
      `Lazy memory pages: ${hex(s.pages_lazy)}`,
      '',
    ].join('\n'));
    assert.ok(Number(s.pages_written) > 0 && Number(s.frozen_time) > 0);
    await dumpedPidsFree([h.pid]);

    const r = ckpt(['restore', '-D', img, '-d', '--display-stats', '-v0']);
    assert.equal(r.status, 0, r.stderr);
    const pages = [...taskPages(img, h.pid).runs].reduce((n, run) => n + run.nrPages, 0);
    const m = /^Displaying restore stats:\nPages compared: 0 \(0x0\)\nPages skipped COW: 0 \(0x0\)\nPages restored: (\d+) \(0x([0-9a-f]+)\)\nRestore time: (\d+) us\nForking time: (\d+) us\n$/.exec(r.stdout);
    assert.ok(m, JSON.stringify(r.stdout));
    // the vDSO's pages are in the dump but come from the kernel on restore
    assert.ok(Number(m[1]) <= pages && Number(m[1]) > pages - 8, `${m[1]} pages restored of ${pages} dumped`);
    assert.equal(parseInt(m[2], 16), Number(m[1]));
    assert.ok(Number(m[4]) > 0 && Number(m[4]) <= Number(m[3]), `forking ${m[4]} us within restore ${m[3]} us`);
  } finally {
    kill(h);
    killPids([h.pid]);
  }
});
