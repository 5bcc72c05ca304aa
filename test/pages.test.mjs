// The page reader: present runs at offsets summed over present entries only,
// PE_PARENT through the parent link, nr_pages or compat_nr_pages, page size as
// a parameter, and real memory of corpus dumps read back (environment strings,
// loop-dynamic's 4 MiB heap pattern).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, encodeImage, taskPages, PageReader } from '@ckpt/images';
import { CORPUS, corpusOrSkip } from './lib/corpus.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'pages-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const page = (ch, size = 4096) => Buffer.alloc(size, ch);

test('present, lazy and parent runs, in an incremental dump chain', () => {
  const parent = join(tmp, 'd1');
  const child = join(tmp, 'd2');
  mkdirSync(parent);
  mkdirSync(child);
  // parent dump: pages at 0x10000 (2 pages, 'a','b') and 0x20000 (1 page, 'c')
  writeFileSync(join(parent, 'pagemap-7.img'), encodeImage({ magic: 'PAGEMAP', entries: [{ pages_id: 1 }, { vaddr: 0x10000, compat_nr_pages: 0, flags: 4, nr_pages: 2 }, { vaddr: 0x20000, compat_nr_pages: 1, flags: 4 }] }));
  writeFileSync(join(parent, 'pages-1.img'), Buffer.concat([page(0x61), page(0x62), page(0x63)]));
  // child dump: 0x10000 unchanged (parent), 0x18000 lazy (not in the image), 0x20000 rewritten ('z'), legacy in_parent entry
  writeFileSync(join(child, 'pagemap-7.img'), encodeImage({ magic: 'PAGEMAP', entries: [
    { pages_id: 2 },
    { vaddr: 0x10000, compat_nr_pages: 0, flags: 1, nr_pages: 2 },
    { vaddr: 0x18000, compat_nr_pages: 0, flags: 2, nr_pages: 1 },
    { vaddr: 0x20000, compat_nr_pages: 0, flags: 4, nr_pages: 1 },
    { vaddr: 0x30000, compat_nr_pages: 1, in_parent: true },
  ] }));
  writeFileSync(join(child, 'pages-2.img'), page(0x7a));
  symlinkSync('../d1', join(child, 'parent'));
  const r = taskPages(child, 7);
  assert.equal(r.read(0x10000n, 4).data.toString(), 'aaaa');
  assert.equal(r.read(0x11ffen, 4).data.toString(), 'bb\0\0'.slice(0, 2) + '\0\0');
  assert.equal(r.read(0x11ffen, 4).missing, 2, 'past the run: not in the dump');
  assert.equal(r.read(0x18000n, 8).missing, 8, 'lazy pages are not in the image');
  assert.equal(r.read(0x20000n, 3).data.toString(), 'zzz');
  assert.equal(r.read(0x30000n, 1).missing, 1, 'in_parent, but the parent has nothing there');
  assert.deepEqual([...r.chunks()].map((c) => [c.vaddr, c.data[0], c.data.length]), [[0x10000n, 0x61, 8192], [0x20000n, 0x7a, 4096]]);
  r.close();
});

test('page size is a parameter (64 KiB pages)', () => {
  const d = join(tmp, 'd64');
  mkdirSync(d);
  writeFileSync(join(d, 'pagemap-9.img'), encodeImage({ magic: 'PAGEMAP', entries: [{ pages_id: 1 }, { vaddr: 0x100000, compat_nr_pages: 0, flags: 2, nr_pages: 1 }, { vaddr: 0x200000, compat_nr_pages: 0, flags: 4, nr_pages: 2 }] }));
  writeFileSync(join(d, 'pages-1.img'), Buffer.concat([page(0x41, 65536), page(0x42, 65536)]));
  const r = new PageReader(d, 'pagemap-9.img', { pageSize: 65536 });
  assert.equal(r.read(0x200000n + 65535n, 2).data.toString(), 'AB');
  assert.equal(r.presentBytes, 131072);
  r.close();
});

test('a pages file shorter than its pagemap is reported, not read past', () => {
  const d = join(tmp, 'short');
  mkdirSync(d);
  writeFileSync(join(d, 'pagemap-3.img'), encodeImage({ magic: 'PAGEMAP', entries: [{ pages_id: 1 }, { vaddr: 0x1000, compat_nr_pages: 0, flags: 4, nr_pages: 4 }] }));
  writeFileSync(join(d, 'pages-1.img'), page(0x41));
  const r = taskPages(d, 3);
  assert.throws(() => r.read(0x3000n, 1), /pages file holds 4096 bytes, but pagemap-3.img puts page data at 8192/);
  r.close();
});

test('corpus: environment strings and loop-dynamic heap pattern read back from CRIU 4.2 pages', (t) => {
  if (!corpusOrSkip(t)) return;
  const dir = join(CORPUS, 'loop-dynamic');
  const pid = decodeImage(join(dir, 'pstree.img')).entries[0].pid;
  const mm = decodeImage(join(dir, `mm-${pid}.img`)).entries[0];
  const r = taskPages(dir, pid);
  const env = r.read(mm.mm_env_start, Number(mm.mm_env_end - mm.mm_env_start)).data.toString().split('\0').filter(Boolean);
  assert.deepEqual(env, ['PATH=/usr/bin:/bin', 'HOME=/tmp/lab', 'LANG=C.UTF-8', 'TERM=xterm']);
  const argv = r.read(mm.mm_arg_start, Number(mm.mm_arg_end - mm.mm_arg_start)).data.toString().split('\0').filter(Boolean);
  assert.deepEqual(argv, ['/tmp/corpus-src/loop-dynamic/prog']);
  // the 4 MiB malloc (an mmap'd chunk inside the largest anonymous mapping) holds pat(i)
  const pat = (i) => Number((BigInt(i) * 2654435761n) >> 13n) & 0xff;
  const head = Buffer.from(Array.from({ length: 64 }, (_, i) => pat(i)));
  let start;
  for (const { vaddr, data } of r.chunks()) {
    const at = data.indexOf(head);
    if (at >= 0) {
      start = vaddr + BigInt(at);
      break;
    }
  }
  assert.ok(start !== undefined, 'the pattern is in the dumped memory');
  const { data, missing } = r.read(start, 4 << 20);
  assert.equal(missing, 0);
  for (let i = 0; i < data.length; i++) if (data[i] !== pat(i)) assert.fail(`byte ${i} of the 4 MiB buffer`);
  r.close();
});
