// Kernel-object ids for ids-PID.img and inventory.root_ids (ENGINE-NOTES §0): vm/files/fs/sighand
// numbered per kind through kcmp with the dumper as #1; namespaces numbered in discovery order.
import { native } from './native.js';
import { nsInode, readStat } from './proc.js';
import { DumpError } from './log.js';

const KINDS = [['vm_id', 1], ['files_id', 2], ['fs_id', 3], ['sighand_id', 4]] as const;
const NS = [['pid_ns_id', 'pid'], ['net_ns_id', 'net'], ['ipc_ns_id', 'ipc'], ['uts_ns_id', 'uts'],
  ['time_ns_id', 'time'], ['mnt_ns_id', 'mnt'], ['user_ns_id', 'user'], ['cgroup_ns_id', 'cgroup']] as const;

/**
 * What two processes of the tree may share, as CRIU: an fd table with the parent (the restore clones the child
 * with CLONE_FILES); memory, fs (cwd, root, umask) or signal handlers, which would come back as copies, and
 * an fd table shared otherwise (a restore cannot clone that), are refused.
 */
function refuseSharing(pid: number, other: number, field: string): void {
  if (field === 'files_id') {
    const ppid = Number(readStat(pid)[4]);
    if (ppid === other || native().kcmp(pid, ppid, KINDS[1][1], 0, 0) === 0) return;
    throw new DumpError(`task ${pid} shares its fd table (CLONE_FILES) with task ${other}, which is not its parent: cannot be restored`);
  }
  const what = { vm_id: 'memory (CLONE_VM)', fs_id: 'cwd, root and umask (CLONE_FS)', sighand_id: 'signal handlers (CLONE_SIGHAND)' }[field];
  throw new DumpError(`task ${pid} shares its ${what} with task ${other}: not supported`);
}

/**
 * While a dump works inside the root task's own network namespace (netns.ts: ckpt's main thread is in it), the
 * inode of ckpt's own one, and the tree's: that one's id follows ckpt's own namespaces (criu's order).
 */
let netSwitch: { ownIno: number; treeIno: number } | undefined;
export function setTreeNetns(s: { ownIno: number; treeIno: number } | undefined): void { netSwitch = s; }
const TREE_NET_ID = NS.length + 1;
const ownIno = (name: string) => (name === 'net' && netSwitch ? netSwitch.ownIno : nsInode(process.pid, name));

/** the images' id of the network namespace the tree's sockets are in (ns_id of socket entries) */
export function treeNetId(): number {
  return netSwitch ? TREE_NET_ID : NS.findIndex(([, nm]) => nm === 'net') + 1;
}

/**
 * The images' id of namespace name:[ino] if it is one of ckpt's own (Ids numbers them 1.. in NS order) or the
 * root task's own network namespace; else undefined. field: its ids-PID.img field.
 */
export function ownNsId(name: string, ino: number): { id: number; field: string } | undefined {
  const i = NS.findIndex(([, nm]) => nm === name);
  if (i >= 0 && name === 'net' && netSwitch?.treeIno === ino) return { id: TREE_NET_ID, field: NS[i][0] };
  return i >= 0 && ownIno(name) === ino ? { id: i + 1, field: NS[i][0] } : undefined;
}

export class Ids {
  private seen: { pid: number; ids: Record<string, number> }[] = [];
  private next: Record<string, number> = { vm_id: 2, files_id: 2, fs_id: 2, sighand_id: 2 };
  private nsIds = new Map<string, number>(); // "kind:inode" -> id
  readonly rootIds: Record<string, number> = { vm_id: 1, files_id: 1, fs_id: 1, sighand_id: 1 };

  constructor() {
    let id = 1;
    for (const [field, name] of NS) {
      const ino = ownIno(name);
      this.nsIds.set(`${name}:${ino}`, id);
      this.rootIds[field] = id++;
    }
    if (netSwitch) this.nsIds.set(`net:${netSwitch.treeIno}`, TREE_NET_ID);
  }

  forTask(pid: number): Record<string, number> {
    const ids: Record<string, number> = {};
    for (const [field, type] of KINDS) {
      const shared = this.seen.find((s) => native().kcmp(pid, s.pid, type, 0, 0) === 0);
      if (shared) refuseSharing(pid, shared.pid, field);
      ids[field] = shared ? shared.ids[field] : this.next[field]++;
    }
    for (const [field, name] of NS) {
      const key = `${name}:${nsInode(pid, name)}`;
      let id = this.nsIds.get(key);
      // the root task's own cgroup namespace comes back through its cgroup set (cgroups.ts), as in criu
      if (id === undefined && name === 'cgroup' && !this.seen.length) this.nsIds.set(key, (id = this.nsIds.size + 1));
      // criu restores one cgroup namespace, the root task's, which all its descendants inherit
      if (name === 'cgroup' && this.seen.length && id !== this.seen[0].ids[field]) {
        throw new DumpError(`task ${pid} is in another cgroup namespace than the root task ${this.seen[0].pid}; nested cgroup namespaces are not supported`);
      }
      // criu restores the root task's network namespace, which all its descendants must share (nested: refused)
      if (name === 'net' && netSwitch && id !== TREE_NET_ID) {
        throw new DumpError(`task ${pid} is in another network namespace than the root task ${this.seen[0]?.pid ?? pid}; nested network namespaces are not supported`);
      }
      if (name === 'net' && !netSwitch && this.seen.length && id === undefined) {
        throw new DumpError(`task ${pid} is in another network namespace than the root task ${this.seen[0].pid}; nested network namespaces are not supported`);
      }
      if (id === undefined) throw new DumpError(`task ${pid} lives in its own ${name} namespace; dumping namespaces is not supported yet`);
      ids[field] = id;
    }
    // unshare(CLONE_NEWPID/NEWTIME) is pending for the task's children: they would come back in ours (CRIU refuses too)
    for (const name of ['pid', 'time']) {
      if (nsInode(pid, `${name}_for_children`) !== nsInode(pid, name)) {
        throw new DumpError(`task ${pid}: its children get another ${name} namespace (unshare(CLONE_NEW${name.toUpperCase()})); dumping namespaces is not supported yet`);
      }
    }
    this.seen.push({ pid, ids });
    return ids;
  }
}
