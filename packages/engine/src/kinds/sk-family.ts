// What the netlink and packet kinds share on dump: a socket's family (SO_DOMAIN, read once per inode and dump),
// the check that it lives in our network namespace, and that namespace's id in the images.
import { native } from '../native.js';
import { treeNetId } from '../ids.js';
import { nsInode } from '../proc.js';
import type { Files } from '../files.js';
import type { FdParms } from './kind.js';
import { PerRun } from './common.js';
import { SOL_SOCKET, SO } from './sk-opts.js';

export const AF_NETLINK = 16, AF_PACKET = 17;

interface Seen { families: Map<number, number>; ownNetNs: number; netNsId: number }
const seen = new PerRun<Files, Seen>(() => ({
  families: new Map(), ownNetNs: nsInode(process.pid, 'net'),
  // the id the dump's ids give the root task's network namespace (ckpt's main thread is in it: netns.ts)
  netNsId: treeNetId(),
}));

/** the family (SO_DOMAIN) of the socket behind p */
export function sockFamily(p: FdParms, files: Files): number {
  if (!p.st.isSocket()) return -1;
  const m = seen.of(files).families;
  let f = m.get(p.st.ino);
  if (f === undefined) {
    const nat = native();
    const local = nat.getFd(p.pid, p.fd);
    try {
      f = nat.getsockoptInt(local, SOL_SOCKET, SO.DOMAIN);
    } finally {
      nat.close(local);
    }
    m.set(p.st.ino, f);
  }
  return f;
}

/** the id of the socket's network namespace in the images; one of another namespace is refused */
export function sockNetNsId(local: number, files: Files, refuse: (why: string) => Error): number {
  const s = seen.of(files);
  if (native().sockNetNs(local) !== s.ownNetNs) throw refuse('it belongs to another network namespace; dumping network namespaces is not supported yet');
  return s.netNsId;
}

/** getsockopt of an int, or the dump of what fails naming the option */
export function intOpt(local: number, refuse: (why: string) => Error): (level: number, name: number) => number {
  return (level, name) => {
    const v = native().getsockoptInt(local, level, name);
    if (v < 0) throw refuse(`getsockopt(${level}, ${name}): errno ${-v}`);
    return v;
  };
}
