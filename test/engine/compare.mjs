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

/** The files.img id a VMA maps (0 for anonymous memory: there shmid is no file id). */
const VMA_FILE = (1 << 6) | (1 << 7); // VMA_FILE_PRIVATE | VMA_FILE_SHARED
const fileIdOf = (v) => (v.status & VMA_FILE ? Number(v.shmid) : 0);

/** A files.img entry by what it is, not by its id: kind and EXE, a file's basename, a memfd's name. */
function fileName(imgs, id) {
  const e = imgs['files.img'].entries.find((x) => x.id === id);
  if (!e) return `missing#${id}`;
  if (imgs['pstree.img'].entries.some((p) => imgs[`mm-${p.pid}.img`]?.entries[0].exe_file_id === id)) return `${e.type} EXE`;
  if (e.reg) return `${e.type} ${e.reg.name.slice(e.reg.name.lastIndexOf('/') + 1)}`;
  if (e.memfd) return `${e.type} ${imgs['memfd.img']?.entries.find((m) => Number(m.inode_id) === Number(e.memfd.inode_id))?.name ?? '?'}`;
  return e.type;
}

/**
 * VMAs of each process: [status, prot, flags, file] (fileName), as a sorted list: where mmap puts a
 * mapping, and so the order of the VMAs, is the kernel's choice (its build, ASLR).
 */
export function vmaShape(imgs) {
  return imgs['pstree.img'].entries.map((p) => imgs[`mm-${p.pid}.img`].entries[0].vmas
    .map((v) => [v.status, v.prot, v.flags, fileIdOf(v) ? fileName(imgs, fileIdOf(v)) : ''].join('/')).sort());
}

/** Number of core images per process and their leader/thread kind. */
export function coreShape(imgs) {
  return imgs['pstree.img'].entries.map((p) => p.threads.map((t) => {
    const c = imgs[`core-${t}.img`].entries[0];
    return [t === p.pid ? 'leader' : 'thread', !!c.tc, !!c.thread_core, c.tc?.sigactions?.length ?? 0];
  }));
}

/**
 * files.img ids of the files only VMAs refer to (and the exes): numbered first, in the order of the
 * mappings. A file an fd or a cwd/root refers to too has its place in the order of those.
 */
function mappedIds(imgs) {
  const mapped = new Set(), other = new Set();
  for (const p of imgs['pstree.img'].entries) {
    const mm = imgs[`mm-${p.pid}.img`]?.entries[0];
    if (!mm) continue;
    mapped.add(mm.exe_file_id);
    for (const v of mm.vmas) if (fileIdOf(v)) mapped.add(fileIdOf(v));
    const ids = imgs[`ids-${p.pid}.img`].entries[0];
    for (const e of imgs[`fdinfo-${ids.files_id}.img`]?.entries ?? []) other.add(e.id);
    const fs = imgs[`fs-${p.pid}.img`]?.entries[0];
    if (fs) other.add(fs.cwd_id).add(fs.root_id);
  }
  return new Set([...mapped].filter((id) => !other.has(id)));
}

/** The files only mappings refer to, as a sorted list of fileName: their ids follow where mmap placed each. */
export function mappedFiles(imgs) {
  return [...mappedIds(imgs)].map((id) => fileName(imgs, id)).sort();
}

/** Every other files.img entry (fds, cwd, root) as CRIU orders and numbers them: [type, id]. */
export function fileOrder(imgs) {
  const ids = mappedIds(imgs);
  return imgs['files.img'].entries.filter((e) => !ids.has(e.id)).map((e) => `${e.type}#${e.id}`);
}

/**
 * Asserts that our dump in `img` has the structure of CRIU's in `ref`: the same
 * image files (but stats-restore), tree, cores, fd kinds, VMAs, mapped files and the order of the others.
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
  assert.deepEqual(mappedFiles(ours), mappedFiles(theirs));
  assert.deepEqual(fileOrder(ours), fileOrder(theirs));
  return { ours, theirs };
}
