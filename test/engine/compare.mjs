// Structural views of a dump that must match what CRIU 4.2 wrote for the same program
// (addresses, PIDs, inode numbers and paths that move between runs are left out).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageSet } from './helpers.mjs';

export async function decodeAll(dir) {
  const { decodeImage } = await import('@ckpt/images');
  const out = {};
  for (const f of readdirSync(dir)) {
    if ((!f.endsWith('.img') && f !== 'stats-dump') || f.startsWith('pages-')) continue;
    out[f.replace(/-\d+\.img$/, (m) => m)] = decodeImage(readFileSync(join(dir, f)));
  }
  return out;
}

const rootOf = (imgs) => imgs['pstree.img'].entries[0].pid;

/** pstree shape: per process [parent index, thread count, pgid is own?, sid is root's?] */
export function treeShape(imgs) {
  const ps = imgs['pstree.img'].entries;
  const idx = new Map(ps.map((p, i) => [p.pid, i]));
  return ps.map((p) => [p.ppid ? idx.get(p.ppid) : -1, p.threads.length, p.pgid === p.pid, p.sid === ps[0].pid]);
}

/** fd kinds per fd table, in pstree order: sorted "fd:TYPE" lists. */
export function fdKinds(imgs) {
  const out = [];
  for (const p of imgs['pstree.img'].entries) {
    const ids = imgs[`ids-${p.pid}.img`].entries[0];
    const fdinfo = imgs[`fdinfo-${ids.files_id}.img`];
    out.push(fdinfo ? fdinfo.entries.map((e) => `${e.fd}:${e.type}`).sort() : []);
  }
  return out;
}

/** VMAs of each process: [status, prot, flags, file kind] with file kind exe/lib basename/anon. */
export function vmaShape(imgs) {
  const files = new Map(imgs['files.img'].entries.map((e) => [e.id, e]));
  return imgs['pstree.img'].entries.map((p) => {
    const mm = imgs[`mm-${p.pid}.img`].entries[0];
    return mm.vmas.map((v) => {
      let file = '';
      if (v.shmid && files.get(v.shmid)?.reg) {
        const f = files.get(v.shmid).reg.name;
        file = v.shmid === mm.exe_file_id ? 'EXE' : f.slice(f.lastIndexOf('/') + 1);
      }
      return [v.status, v.prot, v.flags, file].join('/');
    });
  });
}

/** Number of core images per process and their leader/thread kind. */
export function coreShape(imgs) {
  return imgs['pstree.img'].entries.map((p) => p.threads.map((t) => {
    const c = imgs[`core-${t}.img`].entries[0];
    return [t === p.pid ? 'leader' : 'thread', !!c.tc, !!c.thread_core, c.tc?.sigactions?.length ?? 0];
  }));
}
void rootOf;

/** files.img as CRIU orders it: [type, id relative to the first id] per entry. */
export function fileOrder(imgs) {
  return imgs['files.img'].entries.map((e) => `${e.type}#${e.id}`);
}

/**
 * Asserts that our dump in `img` has the structure of CRIU's in `ref`: the same
 * image files (but stats-restore), tree, cores, fd kinds, VMAs and files.img order.
 * Returns both decoded dumps for further checks.
 */
export async function assertSameStructure(img, ref) {
  assert.deepEqual(imageSet(img), imageSet(ref).filter((f) => f !== 'stats-restore'));
  const ours = await decodeAll(img);
  const theirs = await decodeAll(ref);
  assert.deepEqual(treeShape(ours), treeShape(theirs));
  assert.deepEqual(coreShape(ours), coreShape(theirs));
  assert.deepEqual(fdKinds(ours), fdKinds(theirs));
  assert.deepEqual(vmaShape(ours), vmaShape(theirs));
  assert.deepEqual(fileOrder(ours), fileOrder(theirs));
  return { ours, theirs };
}
