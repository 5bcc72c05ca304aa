// Container checkpoint archives for tests, in the layout the engines write
// (packages/crit/README.md, "Container checkpoint archives"): CRIU's images
// under checkpoint/, the engine's JSON beside them (config.dump, spec.dump,
// network.status, deleted.files), CRIU's stats-dump at the top (Podman runs
// CRIU with the bundle as work dir), rootfs-diff.tar. The tar is written here as
// Go's archive/tar writes it (ustar, a PAX record for a long name), compressed
// with node's gzip or zstd (the zstd tool when there is one, else frames of raw
// blocks, which every zstd reader must take).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CORPUS } from './corpus.mjs';

const ID = '3f1e0c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f';

/** config.dump as Podman writes it (json.MarshalIndent of its ContainerConfig; abridged to real keys) */
export function podmanConfig(name = 'web') {
  return {
    spec: { ociVersion: '1.2.0', process: { args: ['/usr/bin/prog'], cwd: '/' }, root: { path: '' } },
    id: ID, name, lockID: 7, rootfsImageID: 'e4720093a3c1381245b53a5a51b417963b3c4472d3f47fc301930a4f3b17666a',
    rootfsImageName: 'docker.io/library/alpine:latest', rootfsImage: 'docker.io/library/alpine:latest',
    shmSize: 65536000, staticDir: `/var/lib/containers/storage/overlay-containers/${ID}/userdata`,
    secretsPath: '/var/lib/containers/storage/secrets', storageOpts: null, privileged: false,
    createNetNS: true, staticIP: null, staticMAC: null, networkMode: 'bridge', runtime: 'crun',
    createdTime: '2026-11-30T09:12:44.123456789+01:00', checkpointedTime: '2026-11-30T09:20:01.5+01:00',
    restoredTime: '0001-01-01T00:00:00Z', restored: false, cgroupManager: 'systemd', stopSignal: 15, logPath: '', logDriver: 'journald',
  };
}

/** spec.dump: the OCI runtime spec the container ran with */
export function podmanSpec() {
  return {
    ociVersion: '1.2.0',
    process: { user: { uid: 0, gid: 0 }, args: ['/usr/bin/prog'], env: ['PATH=/usr/bin:/bin', 'container=podman'], cwd: '/' },
    root: { path: `/var/lib/containers/storage/overlay/${ID.slice(0, 12)}/merged` },
    hostname: 'web',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/etc/hostname', type: 'bind', source: `/run/containers/storage/overlay-containers/${ID}/userdata/hostname`, options: ['bind', 'rprivate'] },
    ],
    annotations: { 'io.container.manager': 'libpod', 'io.podman.annotations.autoremove': 'FALSE', 'org.opencontainers.image.stopSignal': '15' },
    linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/run/netns/netns-1' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }] },
  };
}

/** spec.dump as CRI-O writes it: its annotations name the pod and the container */
export function crioSpec() {
  return {
    ociVersion: '1.0.2-dev', mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    annotations: {
      'io.container.manager': 'cri-o', 'io.kubernetes.cri-o.Metadata': '{"name":"counter","attempt":1}',
      'io.kubernetes.cri-o.Created': '2026-11-30T08:00:00.000000001Z', 'io.kubernetes.cri-o.IP.0': '10.85.0.7',
      'io.kubernetes.pod.name': 'counters', 'io.kubernetes.pod.namespace': 'default',
    },
  };
}

export const NETWORK_STATUS = {
  podman: { interfaces: { eth0: { subnets: [{ ipnet: '10.88.0.9/16', gateway: '10.88.0.1' }], mac_address: 'f2:99:8d:fb:5a:57' } } },
};

/** A ustar header as Go's archive/tar writes it; type '0' file, '5' directory, 'x' PAX record. */
export function tarHeader(name, size, type) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(type === '5' ? '0000755\0' : '0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('15132061430\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\x0000', 257, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

/** A tar as Go's archive/tar writes it: [name, data | null for a directory] in order. */
export function tarBytes(entries, { end = true } = {}) {
  const blocks = [];
  const pad = (b) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
  for (const [name, data] of entries) {
    if (Buffer.byteLength(name) > 99) {
      // a PAX record carries the long name; the ustar name is cut, as Go does
      const rec = (k, v) => {
        const body = ` ${k}=${v}\n`;
        let len = body.length + 1;
        while (String(len).length + body.length !== len) len = String(len).length + body.length;
        return `${len}${body}`;
      };
      const pax = Buffer.from(rec('path', name));
      blocks.push(tarHeader('PaxHeaders.0/' + name.slice(0, 80), pax.length, 'x'), pad(pax));
    }
    blocks.push(tarHeader(name.slice(0, 99), data ? data.length : 0, data ? '0' : '5'));
    if (data) blocks.push(pad(data));
  }
  if (end) blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const hasZstdTool = (() => {
  try {
    execFileSync('zstd', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const ZSTD_BLOCK = 128 * 1024;

/** The start of a zstd frame (no checksum, no content size, window 128 MiB). */
export const zstdFrameHead = () => Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]);

/**
 * zstd blocks (RFC 8878 §3.1.1.2) of data: RLE blocks where a block is one
 * byte repeated, raw ones elsewhere. Valid zstd without a compressor.
 */
export function zstdBlocks(data, last) {
  const parts = [];
  for (let i = 0; i < data.length || i === 0; i += ZSTD_BLOCK) {
    const chunk = data.subarray(i, i + ZSTD_BLOCK);
    const end = last && i + ZSTD_BLOCK >= data.length ? 1 : 0;
    const rle = chunk.length > 0 && chunk.every((b) => b === chunk[0]);
    const h = (chunk.length << 3) | (rle ? 2 : 0) | end;
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]), rle ? chunk.subarray(0, 1) : chunk);
  }
  return Buffer.concat(parts);
}

const zstdRaw = (data) => Buffer.concat([zstdFrameHead(), zstdBlocks(data, true)]);

export const zstdHow = hasZstdTool ? 'zstd tool' : 'raw zstd blocks';

export function compress(tar, how) {
  if (how === 'gzip') return gzipSync(tar);
  if (how === 'zstd') return hasZstdTool ? execFileSync('zstd', ['-q', '-c', '-3'], { input: tar, maxBuffer: 1 << 30 }) : zstdRaw(tar);
  return tar;
}

/**
 * The extracted layout of a checkpoint of corpus case `caseName`, as `engine`
 * ('podman' | 'crio') writes it; returns the directory.
 */
export function checkpointDir(caseName, { engine = 'podman', config, spec } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'crit-archive-'));
  const ck = join(root, 'checkpoint');
  mkdirSync(ck);
  const src = join(CORPUS, caseName);
  for (const f of readdirSync(src)) {
    if (f.endsWith('.img') && statSync(join(src, f)).isFile()) copyFileSync(join(src, f), join(ck, f));
  }
  copyFileSync(join(src, 'stats-dump'), join(root, 'stats-dump'));
  const json = (v) => JSON.stringify(v, null, 2);
  writeFileSync(join(root, 'config.dump'), config ?? json(podmanConfig()));
  writeFileSync(join(root, 'spec.dump'), spec ?? json(engine === 'crio' ? crioSpec() : podmanSpec()));
  if (engine === 'podman') writeFileSync(join(root, 'network.status'), json(NETWORK_STATUS));
  writeFileSync(join(root, 'deleted.files'), json(['/etc/motd', '/tmp/old.log']));
  writeFileSync(join(root, 'rootfs-diff.tar'), tarBytes([['tmp', null], ['tmp/new.txt', Buffer.from('created in the container\n')]]));
  writeFileSync(join(root, 'dump.log'), '(00.000000) Dumping finished successfully\n');
  return root;
}

/** The tar of an extracted checkpoint, members in the order Go's walk gives (sorted). */
export function archiveOf(dir, how = 'none', { extra = [] } = {}) {
  const entries = [];
  const walk = (rel) => {
    for (const f of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${f}` : f;
      if (statSync(join(dir, r)).isDirectory()) {
        entries.push([r + '/', null]);
        walk(r);
      } else entries.push([r, readFileSync(join(dir, r))]);
    }
  };
  walk('');
  return compress(tarBytes([...entries, ...extra]), how);
}
