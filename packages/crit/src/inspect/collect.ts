// `crit inspect`: what checkpointctl's inspect shows of a container checkpoint
// (container, image, engine, times, sizes, networks, statistics, annotations,
// mounts) with the process tree, open files and sockets read from the images.
// The JSON keeps checkpointctl's key names where it has them.
import { ImageError } from '@ckpt/images';
import { openDump, type DumpSource } from '../archive/source.js';
import {
  containerInfo, readConfig, readDeletedFiles, readNetworks, readSpec, readStats, type DumpStats, type Mount, type NetworkInterface,
} from '../archive/metadata.js';
import { taskStrings } from '../explore/cmdline.js';
import { collectFds } from '../explore/fds.js';
import { ImageDir } from '../explore/imagedir.js';
import { collectPs, type Task } from '../explore/ps.js';
import { collectSockets, type SocketInfo } from '../explore/sk.js';

export interface InspectOptions {
  psTree?: boolean;
  /** argv and environment of each task, read from its dumped memory */
  psTreeCmd?: boolean;
  psTreeEnv?: boolean;
  files?: boolean;
  sockets?: boolean;
  mounts?: boolean;
  stats?: boolean;
  metadata?: boolean;
  /** only this task and its descendants */
  pid?: number;
  /** --all: leave out what the checkpoint does not have instead of refusing */
  whatThereIs?: boolean;
}

export interface ProcessNode {
  pid: number;
  command: string;
  task_state: string;
  threads: number;
  cmdline?: string;
  environment_variables?: string[];
  open_files?: Array<{ fd: string; type: string; path: string }>;
  open_sockets?: Array<{ fd: number; protocol: string; state?: string; local: string; remote: string; recv_q: number; send_q: number }>;
  children?: ProcessNode[];
}

export interface InspectResult {
  path: string;
  container_name?: string;
  image?: string;
  id?: string;
  runtime?: string;
  created?: string;
  checkpointed?: string;
  engine: string;
  pod?: string;
  namespace?: string;
  ip?: string;
  mac?: string;
  networks?: NetworkInterface[];
  checkpoint_size: { total_size: number; memory_pages_size?: number; amd_gpu_memory_pages_size?: number; root_fs_diff_size?: number };
  deleted_files?: number;
  statistics?: DumpStats;
  metadata?: { annotations: Record<string, string> };
  process_tree?: ProcessNode[];
  mounts?: Mount[];
}

const PROTOCOL: Record<SocketInfo['kind'], string> = { unix: 'UNIX', inet: 'IPv4', inet6: 'IPv6', netlink: 'NETLINK', packet: 'PACKET' };

function processTree(dir: ImageDir, o: InspectOptions): ProcessNode[] {
  let roots = collectPs(dir);
  if (o.pid !== undefined) {
    const find = (ts: Task[]): Task | undefined => {
      for (const t of ts) {
        const f = t.pid === o.pid ? t : find(t.children);
        if (f) return f;
      }
      return undefined;
    };
    const t = find(roots);
    if (!t) throw new ImageError(`no task ${o.pid} in this checkpoint (see crit inspect --ps-tree)`);
    roots = [t];
  }
  const fds = o.files || o.sockets ? new Map(collectFds(dir).map((t) => [t.pid, t])) : undefined;
  const socks = o.sockets ? new Map(collectSockets(dir).map((s) => [s.id, s])) : undefined;
  const node = (t: Task): ProcessNode => {
    const n: ProcessNode = { pid: t.pid, command: t.comm, task_state: t.state, threads: t.threads.length };
    if ((o.psTreeCmd || o.psTreeEnv) && dir.has('mm', t.pid)) {
      const s = taskStrings(dir, t.pid);
      if (o.psTreeCmd) n.cmdline = s.argv.join(' ');
      if (o.psTreeEnv) n.environment_variables = s.env;
    }
    const f = fds?.get(t.pid);
    if (f && !f.skipped) {
      if (o.files) {
        n.open_files = f.fds.filter((d) => !socks?.has(d.id)).map((d) => ({ fd: String(d.fd), type: d.type, path: d.desc }));
        if (f.cwd !== undefined) n.open_files.push({ fd: 'cwd', type: 'REG', path: f.cwd });
        if (f.root !== undefined) n.open_files.push({ fd: 'root', type: 'REG', path: f.root });
      }
      if (socks) {
        n.open_sockets = f.fds.flatMap((d) => {
          const s = socks.get(d.id);
          if (!s) return [];
          const protocol = `${PROTOCOL[s.kind]} ${s.type}${s.proto && s.kind !== 'packet' ? `/${s.proto}` : ''}`;
          return [{ fd: d.fd, protocol, state: s.state, local: s.local, remote: s.remote, recv_q: s.recvQ, send_q: s.sendQ }];
        });
      }
    }
    const kids = [...t.children].sort((a, b) => a.pid - b.pid).map(node);
    if (kids.length) n.children = kids;
    return n;
  };
  return roots.map(node);
}

function inspectOne(src: DumpSource, o: InspectOptions): InspectResult {
  const cfg = readConfig(src);
  const spec = readSpec(src);
  const info = containerInfo(cfg, spec, src.metaWhere('spec.dump'));
  const networks = readNetworks(src);
  const sizes = src.sizes();
  const deleted = readDeletedFiles(src);
  const r: InspectResult = {
    path: src.path,
    container_name: info.name, image: cfg?.rootfsImageName, id: cfg?.id, runtime: cfg?.runtime, created: info.created,
    checkpointed: cfg?.checkpointedTime, engine: info.engine, pod: info.pod, namespace: info.namespace,
    ip: info.ip ?? (networks.map((n) => n.ip?.replace(/\/.*/, '')).filter(Boolean).join(', ') || undefined),
    mac: networks.map((n) => n.mac).filter(Boolean).join(', ') || undefined,
    networks: networks.length ? networks : undefined,
    checkpoint_size: {
      total_size: sizes.checkpoint,
      memory_pages_size: sizes.pages || undefined,
      amd_gpu_memory_pages_size: sizes.amdgpuPages || undefined,
      root_fs_diff_size: sizes.rootfsDiff || undefined,
    },
    deleted_files: deleted?.length,
  };
  if (o.stats) {
    r.statistics = readStats(src);
    if (!r.statistics && !o.whatThereIs) throw new ImageError('--stats: no stats-dump in this checkpoint', { file: src.path });
  }
  if (o.metadata) r.metadata = { annotations: spec?.annotations ?? {} };
  if (o.psTree || o.psTreeCmd || o.psTreeEnv || o.files || o.sockets || o.pid !== undefined) r.process_tree = processTree(new ImageDir(src.images), o);
  if (o.mounts) {
    if (!spec && !o.whatThereIs) throw new ImageError('--mounts: no spec.dump in this checkpoint (mounts are listed there)', { file: src.path });
    r.mounts = spec?.mounts;
  }
  return r;
}

export function inspect(path: string, o: InspectOptions): InspectResult {
  const src = openDump(path);
  try {
    return inspectOne(src, o);
  } finally {
    src.close();
  }
}
