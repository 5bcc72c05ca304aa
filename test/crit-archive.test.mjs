// Container checkpoint archives: crit reads the images under checkpoint/ of a
// .tar, .tar.gz or .tar.zst (or of the extracted directory) in place, and
// `crit inspect` shows the engine's metadata with the process tree. Archives
// are made in Podman's and CRI-O's layout from corpus images (lib/checkpoint-archive.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, createWriteStream, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { CORPUS, CRIT, ROOT, cases, corpusOrSkip } from './lib/corpus.mjs';
import { archiveOf, checkpointDir, compress, tarBytes, tarHeader, zstdBlocks, zstdFrameHead, zstdHow } from './lib/checkpoint-archive.mjs';
import { pool, run } from './lib/run.mjs';

const crit = (...args) => run(CRIT, args, { env: { NO_COLOR: '1' } });
const EXPLORERS = ['ps', 'fds', 'mems', 'sk'];
const scratch = [];
test.after(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** an extracted checkpoint of a case and its archives in each compression */
function made(caseName, opts) {
  const dir = checkpointDir(caseName, opts);
  scratch.push(dir);
  const files = {};
  for (const [how, ext] of [['none', 'tar'], ['gzip', 'tar.gz'], ['zstd', 'tar.zst']]) {
    files[ext] = join(dir, `../${dir.split('/').pop()}.${ext}`);
    writeFileSync(files[ext], archiveOf(dir, how));
    scratch.push(files[ext]);
  }
  return { dir, ...files };
}

async function same(a, b, args) {
  const [ra, rb] = [await crit(...args(a)), await crit(...args(b))];
  assert.equal(ra.code, rb.code, `${args(a).join(' ')}: ${ra.stderr}`);
  const norm = (text, p) => text.replaceAll(`${p}/checkpoint`, 'X').replaceAll(p, 'X');
  assert.equal(norm(ra.stderr, a), norm(rb.stderr, b), args(a).join(' '));
  assert.ok(ra.stdout.equals(rb.stdout), `${args(a).join(' ')}: output differs from ${b}`);
  return ra;
}

test(`x ps|fds|mems|sk: an archive in Podman's layout (tar, gzip, zstd by ${zstdHow}) and its extracted directory print what the images directory prints`, async (t) => {
  if (!corpusOrSkip(t)) return;
  const all = cases();
  assert.ok(all.length >= 10, 'corpus cases');
  let compared = 0;
  await pool(all, 2, async (c) => {
    const m = made(c);
    const forms = c === 'inet' || c === 'unix-sockets' || c === 'tree-pipes' ? [m['tar.zst'], m.tar, m['tar.gz'], m.dir] : [m['tar.zst']];
    for (const form of forms) {
      for (const x of EXPLORERS) {
        await same(form, join(CORPUS, c), (d) => ['x', d, x]);
        compared++;
      }
    }
    // the JSON forms too (they name no paths)
    await same(m['tar.gz'], join(CORPUS, c), (d) => ['x', d, 'fds', '--json']);
  });
  assert.ok(compared >= all.length * 4);
});

test('x ps --cmdline and x mem read page data from a compressed archive', async (t) => {
  if (!corpusOrSkip(t)) return;
  const m = made('loop-static');
  const pid = JSON.parse((await crit('x', m['tar.gz'], 'ps', '--json')).stdout)[0].pid;
  for (const form of [m['tar.gz'], m['tar.zst'], m.tar]) {
    const r = await same(form, join(CORPUS, 'loop-static'), (d) => ['x', d, 'mem', '--pid', String(pid)]);
    assert.ok(r.stdout.length > 10000, 'a hexdump of the memory');
    await same(form, join(CORPUS, 'loop-static'), (d) => ['x', d, 'ps', '--cmdline', '--json']);
  }
});

test('GNU tar archives, long names in PAX records, images named through the archive, diff of two archives', async (t) => {
  if (!corpusOrSkip(t)) return;
  const m = made('inet');
  const gnu = `${m.dir}.gnu.tgz`;
  scratch.push(gnu);
  execFileSync('tar', ['czf', gnu, '-C', m.dir, '.']); // ./checkpoint/... names, GNU headers
  for (const x of EXPLORERS) await same(gnu, join(CORPUS, 'inet'), (d) => ['x', d, x]);
  const long = `${m.dir}.long.tar`;
  scratch.push(long);
  writeFileSync(long, archiveOf(m.dir, 'none', { extra: [[`volumes/${'deep/'.repeat(30)}file`, Buffer.from('x')]] }));
  const r = await crit('x', long, 'ps');
  assert.equal(r.code, 0, r.stderr);
  const pstree = readdirSync(join(CORPUS, 'inet')).find((f) => f.startsWith('core-'));
  await same(`${m['tar.zst']}/${pstree}`, join(CORPUS, 'inet', pstree), (p) => ['show', p]);
  await same(`${m.tar}/checkpoint/${pstree}`, join(CORPUS, 'inet', pstree), (p) => ['info', p]);
  const d = await crit('diff', m['tar.gz'], m['tar.zst']);
  assert.equal(d.code, 0, d.stdout.toString() + d.stderr);
  // every section, pages and CRIU's statistics (beside checkpoint/ in Podman's layout) included
  const whole = await crit('diff', m['tar.zst'], join(CORPUS, 'inet'));
  assert.equal(whole.code, 0, whole.stdout.toString() + whole.stderr);
  const other = await crit('diff', m['tar.gz'], join(CORPUS, 'loop-static'), '--only', 'tree');
  assert.equal(other.code, 1);
  // archives are read, never written
  for (const args of [['set', `${m.tar}/checkpoint/${pstree}`, 'entries[0].tc.comm', '"x"'], ['edit', `${m['tar.zst']}/${pstree}`]]) {
    const w = await crit(...args);
    assert.equal(w.code, 1);
    assert.match(w.stderr, /^crit: .*: is inside a checkpoint archive, which crit only reads: extract the archive to change its images\n$/);
  }
});

test('inspect: Podman metadata, sizes, networks, statistics, mounts and the process tree (tree and --json)', async (t) => {
  if (!corpusOrSkip(t)) return;
  const m = made('inet');
  const tree = await crit('inspect', m['tar.zst'], '--ps-tree', '--files', '--sockets', '--mounts', '--stats');
  assert.equal(tree.code, 0, tree.stderr);
  const text = tree.stdout.toString();
  for (const line of [
    /^web$/m, /├── Image: docker\.io\/library\/alpine:latest$/m, /├── ID: 3f1e0c2a9b8d/m, /├── Runtime: crun$/m,
    /├── Created: 2026-11-30T09:12:44\.123456789\+01:00$/m, /├── Engine: Podman$/m, /podman \(eth0\)/, /IP: 10\.88\.0\.9\/16/,
    /Checkpoint size: \d+\.\d KiB/, /Memory pages size: /, /Root FS diff size: \d+\.\d KiB/, /Deleted files: 2/,
    /CRIU dump statistics/, /Pages written: \d+/, /Process tree/, /\[7807\]  prog/, /\[7812\]  inet-client/,
    /Open files/, /\[REG cwd\]  \/tmp\/corpus-run\/inet/, /Open sockets/, /\[IPv4 STREAM\/TCP LISTEN\]  127\.0\.0\.1:47101 -> \*/,
    /Overview of mounts/, /Destination: \/etc\/hostname/,
  ]) assert.match(text, line);

  const [j] = JSON.parse((await crit('inspect', m['tar.gz'], '--all', '--json')).stdout);
  const imgs = readdirSync(join(m.dir, 'checkpoint'));
  const size = (f) => statSync(join(m.dir, 'checkpoint', f)).size;
  assert.equal(j.container_name, 'web');
  assert.equal(j.engine, 'Podman');
  assert.equal(j.checkpointed, '2026-11-30T09:20:01.5+01:00');
  assert.equal(j.checkpoint_size.total_size, imgs.reduce((s, f) => s + size(f), 0));
  assert.equal(j.checkpoint_size.memory_pages_size, imgs.filter((f) => /^pages-/.test(f)).reduce((s, f) => s + size(f), 0));
  assert.equal(j.checkpoint_size.root_fs_diff_size, statSync(join(m.dir, 'rootfs-diff.tar')).size);
  assert.equal(j.ip, '10.88.0.9');
  assert.equal(j.mac, 'f2:99:8d:fb:5a:57');
  const stats = JSON.parse(execFileSync(CRIT, ['decode', '-i', join(CORPUS, 'inet', 'stats-dump')])).entries[0].dump;
  assert.deepEqual(j.statistics, {
    freezing_time: stats.freezing_time, frozen_time: stats.frozen_time, memdump_time: stats.memdump_time,
    memwrite_time: stats.memwrite_time, pages_scanned: stats.pages_scanned, pages_written: stats.pages_written,
  });
  assert.equal(j.metadata.annotations['io.container.manager'], 'libpod');
  assert.deepEqual(j.mounts.map((x) => x.destination), ['/proc', '/dev', '/etc/hostname']);
  const ps = JSON.parse((await crit('x', join(CORPUS, 'inet'), 'ps', '--json')).stdout);
  const shape = (n) => ({ pid: n.pid, comm: n.comm ?? n.command, kids: (n.children ?? []).map(shape) });
  assert.deepEqual(j.process_tree.map(shape), ps.map(shape));
  assert.ok(j.process_tree[0].open_sockets.some((s) => s.protocol === 'IPv4 STREAM/TCP' && s.state === 'LISTEN' && s.fd === 3));
  // the extracted directory says the same, but for its path
  const [jd] = JSON.parse((await crit('inspect', m.dir, '--all', '--json')).stdout);
  assert.deepEqual({ ...jd, path: '' }, { ...j, path: '' });
  // argv and environment from the dumped memory, through the compressed archive
  const [cmd] = JSON.parse((await crit('inspect', m['tar.zst'], '--ps-tree-cmd', '--ps-tree-env', '--json')).stdout);
  assert.equal(cmd.process_tree[0].cmdline, '/tmp/corpus-src/inet/prog');
  assert.deepEqual(cmd.process_tree[0].environment_variables, ['PATH=/usr/bin:/bin', 'HOME=/tmp/lab', 'LANG=C.UTF-8', 'TERM=xterm']);
  // --pid: one subtree
  const [sub] = JSON.parse((await crit('inspect', m.tar, '--pid', '7812', '--json')).stdout);
  assert.deepEqual(sub.process_tree.map((p) => p.pid), [7812]);
  const none = await crit('inspect', m.tar, '--pid', '999999');
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^crit: no task 999999 in this checkpoint/);
});

test('inspect: a CRI-O checkpoint names its container and pod from the spec annotations', async (t) => {
  if (!corpusOrSkip(t)) return;
  const m = made('loop-static', { engine: 'crio' });
  const [j] = JSON.parse((await crit('inspect', m.tar, '--json')).stdout);
  assert.deepEqual([j.engine, j.container_name, j.pod, j.namespace, j.ip], ['CRI-O', 'counter', 'counters', 'default', '10.85.0.7']);
  assert.equal(j.created, '2026-11-30T08:00:00.000000001Z');
});

test('inspect escapes control characters from the checkpoint in its tree', async (t) => {
  if (!corpusOrSkip(t)) return;
  const cfg = JSON.parse(readFileSync(join(made('loop-static').dir, 'config.dump')));
  const m = made('loop-static', { config: JSON.stringify({ ...cfg, name: 'evil\x1b]0;owned\x07' }) });
  const r = await crit('inspect', m['tar.gz']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout.toString(), /[\x1b\x07]/);
  assert.match(r.stdout.toString(), /evil\\x1b\]0;owned\\x07/);
});

test('bad archives: one line naming the archive and what is wrong, exit 1', async (t) => {
  if (!corpusOrSkip(t)) return;
  const m = made('inet');
  const tar = readFileSync(m.tar);
  const bad = (name, bytes) => {
    const f = `${m.dir}.${name}`;
    writeFileSync(f, bytes);
    scratch.push(f);
    return f;
  };
  const gz = readFileSync(m['tar.gz']);
  const flipped = Buffer.from(gz);
  for (let i = 0; i < 8; i++) flipped[Math.floor(gz.length / 2) + i] ^= 0x5a;
  const zst = readFileSync(m['tar.zst']);
  const huge = Buffer.from(tar);
  huge[124] = 0x80; // base-256 size of the first member: 2^45 bytes
  huge.fill(0, 125, 136);
  huge[130] = 0x20;
  let sum = 0;
  huge.fill(0x20, 148, 156);
  for (let i = 0; i < 512; i++) sum += huge[i];
  huge.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const noCheckpoint = tarBytes([['config.dump', readFileSync(join(m.dir, 'config.dump'))], ['spec.dump', readFileSync(join(m.dir, 'spec.dump'))]]);
  const withConfig = (text) => {
    const d = checkpointDir('loop-static', { config: text });
    scratch.push(d);
    return archiveOf(d, 'gzip');
  };
  const expect = [
    ['truncated tar', bad('cut.tar', tar.subarray(0, tar.length - 20000)), /truncated tar archive/],
    ['truncated gzip', bad('cut.tar.gz', gz.subarray(0, gz.length >> 1)), /bad gzip data .*unexpected EOF|truncated/],
    ['corrupt gzip', bad('flip.tar.gz', flipped), /gzip|corrupt tar archive/],
    ['truncated zstd', bad('cut.tar.zst', zst.subarray(0, zst.length - 100)), /truncated zstd data/],
    ['not an archive', bad('junk.tar', Buffer.alloc(4096, 7)), /not a checkpoint archive/],
    ['xz', bad('x.tar.xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 1, 2])), /xz-compressed archives are not supported/],
    ['absurd size', bad('huge.tar', huge), /absurd size, refused/],
    ['no checkpoint/', bad('nock.tar', compress(noCheckpoint, 'zstd')), /not a container checkpoint: no checkpoint\/ directory/],
    ['config.dump not JSON', bad('badjson.tgz', withConfig('{"id": "abc",')), /config\.dump: not valid JSON/],
    ['config.dump wrong type', bad('badtype.tgz', withConfig('{"id": 42}')), /config\.dump: id: expected a string, found a number/],
    ['config.dump a list', bad('list.tgz', withConfig('[]')), /config\.dump: expected a JSON object, found a list/],
    ['config.dump empty', bad('empty.tgz', withConfig('')), /config\.dump: empty file/],
  ];
  for (const [what, file, msg] of expect) {
    const isMeta = what.startsWith('config.dump');
    for (const args of isMeta ? [['inspect', file]] : [['x', file, 'ps'], ['inspect', file]]) {
      const r = await crit(...args);
      assert.equal(r.code, 1, `${what}: ${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `${what}: one line: ${r.stderr}`);
      assert.ok(lines[0].startsWith(`crit: ${file}`), `${what}: names the archive: ${lines[0]}`);
      assert.match(lines[0], msg, what);
    }
  }
  // a malformed config.dump does not stop the explorers, which read only the images
  const r = await crit('x', `${m.dir}.badjson.tgz`, 'ps');
  assert.equal(r.code, 0, r.stderr);
});

test('memory stays bounded on compressed archives: 256 MiB of zeros (a thousandfold in gzip, far more in zstd RLE blocks)', async (t) => {
  if (!corpusOrSkip(t)) return;
  const m = made('inet');
  const BIG = 256 << 20;
  const piece = Buffer.alloc(8 << 20);
  // the small members, then a big rootfs-diff.tar and an unreferenced big pages file, written in pieces
  const small = readFileSync(m.tar).subarray(0, -1024);
  const pieces = function* () {
    yield small;
    for (const name of ['rootfs-diff.tar', 'checkpoint/pages-77.img']) {
      yield tarHeader(name, BIG, '0');
      for (let n = 0; n < BIG; n += piece.length) yield piece;
    }
    yield Buffer.alloc(1024);
  };
  const gz = `${m.dir}.zeros.tar.gz`;
  const zst = `${m.dir}.zeros.tar.zst`;
  scratch.push(gz, zst);
  const out = createGzip({ level: 1 });
  const done = once(out.pipe(createWriteStream(gz)), 'finish');
  for (const p of pieces()) if (!out.write(p)) await once(out, 'drain');
  out.end();
  await done;
  const fd = openSync(zst, 'w');
  writeSync(fd, zstdFrameHead());
  for (const p of pieces()) writeSync(fd, zstdBlocks(p, false));
  writeSync(fd, Buffer.from([1, 0, 0])); // an empty raw block, the last
  closeSync(fd);
  assert.ok(statSync(gz).size < BIG / 100 && statSync(zst).size < BIG / 100, 'compressed thousandfold');
  const want = await crit('x', join(CORPUS, 'inet'), 'ps');
  for (const f of [gz, zst]) {
    const r = await run(process.execPath, [join(ROOT, 'test/lib/crit-maxrss.mjs'), 'x', f, 'ps'], { env: { NO_COLOR: '1' } });
    const lines = r.stderr.trimEnd().split('\n');
    const rss = Number(lines.pop().replace('maxrss=', ''));
    assert.equal(r.code, 0, lines.join('\n'));
    assert.ok(r.stdout.equals(want.stdout), f);
    assert.ok(rss < 160 * 1024, `${f}: max RSS ${rss} KiB for ${2 * BIG >> 20} MiB of members`);
    t.diagnostic(`${f.split('.').slice(-2).join('.')}: max RSS ${rss >> 10} MiB`);
  }
  const [j] = JSON.parse((await crit('inspect', zst, '--json')).stdout);
  assert.equal(j.checkpoint_size.root_fs_diff_size, BIG);
  assert.ok(j.checkpoint_size.memory_pages_size >= BIG);
});

test('inspect on a plain CRIU dump directory: no container metadata, the tree and statistics all the same', async (t) => {
  if (!corpusOrSkip(t)) return;
  const r = await crit('inspect', join(CORPUS, 'threads'), '--ps-tree', '--stats');
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout.toString();
  assert.match(text, /Engine: none \(a CRIU dump without container metadata\)/);
  assert.match(text, /CRIU dump statistics/);
  assert.match(text, /└── \[\d+\]  prog 5 threads/);
  const img = await crit('inspect', join(CORPUS, 'threads', 'pstree.img'));
  assert.equal(img.code, 1);
  assert.match(img.stderr, /^crit: .*pstree\.img: not a checkpoint archive \(not a tar file, nor gzip or zstd\)\n$/);
});

test('inspect: network.status as older Podman wrote it (CNI results) and a containerd checkpoint (annotations, no network.status)', async (t) => {
  if (!corpusOrSkip(t)) return;
  const m = made('loop-static');
  writeFileSync(join(m.dir, 'network.status'), JSON.stringify([{
    cniVersion: '0.4.0',
    interfaces: [{ name: 'cni-podman0', mac: '96:a0:3b:15:9e:21' }, { name: 'vethd5c6f1e2', mac: '2e:61:58:0d:53:2c' }, { name: 'eth0', mac: '3a:8c:08:0b:1c:7f', sandbox: '/run/netns/cni-1' }],
    ips: [{ version: '4', interface: 2, address: '10.88.0.5/16', gateway: '10.88.0.1' }],
    routes: [{ dst: '0.0.0.0/0' }], dns: {},
  }]));
  const [cni] = JSON.parse((await crit('inspect', m.dir, '--json')).stdout);
  assert.deepEqual(cni.networks, [{ network: 'cni 0', name: 'eth0', mac: '3a:8c:08:0b:1c:7f', ip: '10.88.0.5/16', gateway: '10.88.0.1' }]);
  assert.equal(cni.ip, '10.88.0.5');
  const spec = {
    annotations: {
      'io.kubernetes.cri.container-name': 'worker', 'io.kubernetes.cri.sandbox-namespace': 'jobs', 'io.kubernetes.cri.sandbox-name': 'worker-pod',
    },
  };
  const c = made('loop-static', { spec: JSON.stringify(spec) });
  rmSync(join(c.dir, 'network.status'));
  const [ctr] = JSON.parse((await crit('inspect', c.dir, '--json')).stdout);
  assert.deepEqual([ctr.engine, ctr.container_name, ctr.namespace, ctr.pod, ctr.networks], ['containerd', 'worker', 'jobs', 'worker-pod', undefined]);
  writeFileSync(join(c.dir, 'spec.dump'), JSON.stringify({ annotations: { a: 1 } }));
  const bad = await crit('inspect', c.dir);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^crit: .*\/spec\.dump: annotations\.a: expected a string, found a number\n$/);
});
