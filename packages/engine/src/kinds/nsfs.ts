// Namespace files (CRIU's nsfile in namespaces.c): an fd on /proc/PID/ns/X, a files.img NS entry with the
// images' id of the namespace and its CLONE_NEW* flag. A dumped tree lives in ckpt's own namespaces (ids.ts
// refuses any other), so only an fd on one of those can be dumped; the restore opens the same kind of
// namespace of the tree it restores, which is the helper's own (it makes none): /proc/self/ns/X.
import { DumpError } from '../log.js';
import { ownNsId } from '../ids.js';
import { load, n, RestoreError } from '../restore/read.js';
import { ObjKind } from '../restore/plan-wire.js';
import type { Kind } from './kind.js';

/** CLONE_NEW* of each namespace, by its name in /proc/PID/ns */
const CFLAG: Record<string, number> = {
  pid: 0x20000000, net: 0x40000000, ipc: 0x08000000, uts: 0x04000000, time: 0x80, mnt: 0x20000, user: 0x10000000, cgroup: 0x02000000,
};
const LINK = /^([a-z]+):\[(\d+)\]$/;

export const nsfs: Kind = {
  type: 'NS',
  field: 'nsf',
  detect({ link, st }) {
    const m = LINK.exec(link);
    return !!m && m[1] in CFLAG && st.ino === Number(m[2]);
  },
  dump(files, { id, link, st, flags, what }) {
    const name = LINK.exec(link)![1];
    const ns = ownNsId(name, st.ino);
    if (!ns) throw new DumpError(`Can't dump ${what}: a ${name} namespace the tree does not live in is not supported`);
    files.entries.push({ type: 'NS', id, nsf: { id, ns_id: ns.id, ns_cflag: CFLAG[name], flags } });
  },
  plan(objs, f, _fileId, what) {
    const e = f.nsf;
    const name = Object.keys(CFLAG).find((k) => CFLAG[k] === n(e.ns_cflag));
    if (!name) throw new RestoreError(`${what}: namespace file of unknown kind (clone flag 0x${n(e.ns_cflag).toString(16)})`);
    // every task of the dump shares the root's namespaces (ids.ts): the file must be on one of them
    const root = load(objs.opts.dir, 'pstree', 'process tree').entries[0];
    const ids = load(objs.opts.dir, 'ids', n(root.pid), `task ${n(root.pid)}`).entries[0] ?? {};
    if (n(ids[`${name}_ns_id`]) !== n(e.ns_id)) {
      throw new RestoreError(`${what}: ${name} namespace ${n(e.ns_id)} is not the tree's (${n(ids[`${name}_ns_id`])}): namespaces are not restored`);
    }
    return { kind: ObjKind.REG, label: `${what} (${name} namespace)`, path: `/proc/self/ns/${name}`, flags: n(e.flags), pos: 0n };
  },
};
