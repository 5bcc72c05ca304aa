// The container engines' files beside checkpoint/, read as the engines write
// them: config.dump (Podman's container config; CRI-O and containerd write a
// reduced one with the same keys), spec.dump (the OCI runtime spec),
// network.status (Podman: network name -> interfaces; older Podman: a list of
// CNI results), deleted.files (a JSON list of paths) and stats-dump (CRIU's
// own STATS image). A file that is there but not what it should be is refused
// with one line naming it and the offending key.
import { decodeImage, ImageError } from '@ckpt/images';
import type { DumpSource } from './source.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface ContainerConfig {
  id?: string;
  name?: string;
  rootfsImage?: string;
  rootfsImageRef?: string;
  rootfsImageName?: string;
  runtime?: string;
  createdTime?: string;
  checkpointedTime?: string;
}

export interface Mount {
  destination: string;
  type: string;
  source: string;
}

export interface NetworkInterface {
  network: string;
  name: string;
  ip?: string;
  mac?: string;
  gateway?: string;
}

export interface DumpStats {
  freezing_time?: number;
  frozen_time?: number;
  memdump_time?: number;
  memwrite_time?: number;
  pages_scanned?: number;
  pages_written?: number;
}

class Checker {
  constructor(private where: string) {}
  fail(path: string, msg: string): never {
    throw new ImageError(`${path ? `${path}: ` : ''}${msg}`, { file: this.where });
  }
  object(v: Json | undefined, path: string): { [k: string]: Json } {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, `expected a JSON object, found ${kind(v)}`);
    return v;
  }
  array(v: Json | undefined, path: string): Json[] {
    if (!Array.isArray(v)) this.fail(path, `expected a JSON list, found ${kind(v)}`);
    return v;
  }
  /** a string field that may be absent (or null, as Go writes a nil pointer) */
  string(o: { [k: string]: Json }, key: string, path: string): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.fail(path ? `${path}.${key}` : key, `expected a string, found ${kind(v)}`);
    return v;
  }
}

function kind(v: Json | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function parse(bytes: Buffer, where: string): Json {
  const text = bytes.toString('utf8');
  if (text.trim() === '') throw new ImageError('empty file (expected JSON)', { file: where });
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new ImageError(`not valid JSON (${(e as Error).message})`, { file: where });
  }
}

/** A time as the engines write it (RFC 3339, Go's zero time meaning "never"). */
function time(c: Checker, o: { [k: string]: Json }, key: string): string | undefined {
  const v = c.string(o, key, '');
  if (v === undefined || v.startsWith('0001-01-01T00:00:00')) return undefined;
  if (Number.isNaN(Date.parse(v))) c.fail(key, `not a time: ${JSON.stringify(v)}`);
  return v;
}

export function readConfig(src: DumpSource): ContainerConfig | undefined {
  const bytes = src.meta('config.dump');
  if (!bytes) return undefined;
  const c = new Checker(src.metaWhere('config.dump'));
  const o = c.object(parse(bytes, src.metaWhere('config.dump')), '');
  const cfg: ContainerConfig = {};
  for (const k of ['id', 'name', 'rootfsImage', 'rootfsImageRef', 'rootfsImageName', 'runtime'] as const) cfg[k] = c.string(o, k, '');
  cfg.createdTime = time(c, o, 'createdTime');
  cfg.checkpointedTime = time(c, o, 'checkpointedTime');
  return cfg;
}

export interface Spec {
  annotations: Record<string, string>;
  mounts: Mount[];
}

export function readSpec(src: DumpSource): Spec | undefined {
  const bytes = src.meta('spec.dump');
  if (!bytes) return undefined;
  const where = src.metaWhere('spec.dump');
  const c = new Checker(where);
  const o = c.object(parse(bytes, where), '');
  const annotations: Record<string, string> = {};
  if (o.annotations !== undefined && o.annotations !== null) {
    const a = c.object(o.annotations, 'annotations');
    for (const k of Object.keys(a)) annotations[k] = c.string(a, k, 'annotations') ?? '';
  }
  const mounts: Mount[] = [];
  if (o.mounts !== undefined && o.mounts !== null) {
    c.array(o.mounts, 'mounts').forEach((m, i) => {
      const mo = c.object(m, `mounts[${i}]`);
      mounts.push({
        destination: c.string(mo, 'destination', `mounts[${i}]`) ?? '',
        type: c.string(mo, 'type', `mounts[${i}]`) ?? '',
        source: c.string(mo, 'source', `mounts[${i}]`) ?? '',
      });
    });
  }
  return { annotations, mounts };
}

export function readNetworks(src: DumpSource): NetworkInterface[] {
  const bytes = src.meta('network.status');
  if (!bytes) return [];
  const where = src.metaWhere('network.status');
  const c = new Checker(where);
  const v = parse(bytes, where);
  const out: NetworkInterface[] = [];
  if (Array.isArray(v)) {
    // older Podman: CNI results, [{interfaces: [{name, mac}], ips: [{address, gateway, interface}]}]
    v.forEach((r, i) => {
      const ro = c.object(r, `[${i}]`);
      const ifs = ro.interfaces === undefined ? [] : c.array(ro.interfaces, `[${i}].interfaces`).map((f, j) => c.object(f, `[${i}].interfaces[${j}]`));
      const ips = ro.ips === undefined ? [] : c.array(ro.ips, `[${i}].ips`).map((f, j) => c.object(f, `[${i}].ips[${j}]`));
      for (const ip of ips) {
        const n = typeof ip.interface === 'number' ? ifs[ip.interface] : undefined;
        out.push({
          network: `cni ${i}`, name: (n && c.string(n, 'name', '')) ?? '?', mac: n ? c.string(n, 'mac', '') : undefined,
          ip: c.string(ip, 'address', `[${i}].ips`), gateway: c.string(ip, 'gateway', `[${i}].ips`),
        });
      }
    });
    return out;
  }
  const nets = c.object(v, '');
  for (const net of Object.keys(nets).sort()) {
    const n = c.object(nets[net], net);
    if (n.interfaces === undefined || n.interfaces === null) continue;
    const ifs = c.object(n.interfaces, `${net}.interfaces`);
    for (const name of Object.keys(ifs).sort()) {
      const path = `${net}.interfaces.${name}`;
      const f = c.object(ifs[name], path);
      const subnets = f.subnets === undefined || f.subnets === null ? [] : c.array(f.subnets, `${path}.subnets`);
      const iface: NetworkInterface = { network: net, name, mac: c.string(f, 'mac_address', path) || undefined };
      subnets.forEach((s, i) => {
        const so = c.object(s, `${path}.subnets[${i}]`);
        iface.ip = c.string(so, 'ipnet', `${path}.subnets[${i}]`) || iface.ip;
        iface.gateway = c.string(so, 'gateway', `${path}.subnets[${i}]`) || iface.gateway;
      });
      out.push(iface);
    }
  }
  return out;
}

export function readDeletedFiles(src: DumpSource): string[] | undefined {
  const bytes = src.meta('deleted.files');
  if (!bytes) return undefined;
  const where = src.metaWhere('deleted.files');
  const c = new Checker(where);
  return c.array(parse(bytes, where), '').map((v, i): string => (typeof v === 'string' ? v : c.fail(`[${i}]`, `expected a string, found ${kind(v)}`)));
}

/** CRIU's dump statistics: stats-dump beside checkpoint/ (Podman, CRI-O) or among the images (criu's default). */
export function readStats(src: DumpSource): DumpStats | undefined {
  if (!src.images.has('stats-dump')) return undefined;
  const input = src.images.image('stats-dump');
  const where = src.images.where('stats-dump');
  let doc;
  try {
    doc = decodeImage(input);
  } catch (e) {
    throw e instanceof ImageError ? e.at({ file: where }) : e;
  }
  if (doc.magic !== 'STATS') throw new ImageError(`a ${doc.magic} image, expected CRIU's STATS image`, { file: where });
  const d = (doc.entries[0] as { dump?: Record<string, unknown> } | undefined)?.dump;
  if (!d) throw new ImageError('no dump statistics in this STATS image', { file: where });
  const out: DumpStats = {};
  for (const k of ['freezing_time', 'frozen_time', 'memdump_time', 'memwrite_time', 'pages_scanned', 'pages_written'] as const) {
    if (d[k] !== undefined) out[k] = Number(d[k]);
  }
  return out;
}

export interface ContainerInfo {
  name?: string;
  engine: string;
  created?: string;
  namespace?: string;
  pod?: string;
  ip?: string;
}

/** Which engine wrote the checkpoint, and what it says of the container (checkpointctl's rules). */
export function containerInfo(cfg: ContainerConfig | undefined, spec: Spec | undefined, where: string): ContainerInfo {
  const a = spec?.annotations ?? {};
  const manager = a['io.container.manager'];
  if (manager === 'libpod') return { name: cfg?.name, engine: 'Podman', created: cfg?.createdTime };
  if (manager === 'cri-o') {
    let name: string | undefined;
    const meta = a['io.kubernetes.cri-o.Metadata'];
    if (meta !== undefined) {
      let m: Json;
      try {
        m = JSON.parse(meta) as Json;
      } catch (e) {
        throw new ImageError(`annotations.io.kubernetes.cri-o.Metadata: not valid JSON (${(e as Error).message})`, { file: where });
      }
      const mo = new Checker(where).object(m, 'annotations.io.kubernetes.cri-o.Metadata');
      name = new Checker(where).string(mo, 'name', 'annotations.io.kubernetes.cri-o.Metadata');
    }
    return {
      name, engine: 'CRI-O', created: a['io.kubernetes.cri-o.Created'], ip: a['io.kubernetes.cri-o.IP.0'],
      namespace: a['io.kubernetes.pod.namespace'], pod: a['io.kubernetes.pod.name'],
    };
  }
  if (!cfg && !spec) return { engine: 'none (a CRIU dump without container metadata)' };
  return {
    name: a['io.kubernetes.cri.container-name'] ?? cfg?.name, engine: 'containerd', created: cfg?.createdTime,
    namespace: a['io.kubernetes.cri.sandbox-namespace'], pod: a['io.kubernetes.cri.sandbox-name'],
  };
}
