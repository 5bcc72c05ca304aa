// Image types the corpus lacks (legacy images, SIGNAL, PIDFD, BINFMT_MISC,
// bpfmap-data, cpuinfo, ...): JSON written here -> encode -> decode (plain and
// pretty) -> encode must give the same bytes and the same JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IMAGE_TYPES, decodeImage, encodeImage, imageInfo, imageToJsonText, messagePlan, parseImageJson, UNKNOWN_KEY,
} from '@ckpt/images';

// A value for every field of a message, derived from its schema, so that every
// message type is exercised; the specials below add meaningful payloads.
function sample(plan, depth = 0, seed = 1) {
  const out = {};
  for (const f of plan.fields) {
    if (f.kind === 'message' && depth > 3) continue;
    const one = (i) => {
      const k = seed + f.id + i;
      switch (f.kind) {
        case 'message': return sample(messagePlan(f.msgName), depth + 1, k);
        case 'enum': return [...f.enumPlan.byName.keys()][k % f.enumPlan.byName.size];
        case 'bool': return k % 2 === 0;
        case 'string': return `name-${k}-é`;
        case 'bytes': return f.opts.conv === 'unix_name' ? '=00abstract-sock=3D=FF' : Buffer.from(`bytes ${k}`).toString('base64') + '\n';
        case 'int32': case 'sint32': case 'sfixed32': return -k;
        case 'int64': case 'sint64': case 'sfixed64': return -(2n ** 40n) - BigInt(k);
        case 'uint64': case 'fixed64': return 2n ** 63n + BigInt(k);
        default: return k * 1000;
      }
    };
    if (f.repeated) out[f.name] = f.opts.ipadd ? [16777343 + seed] : [one(0), one(1)];
    else out[f.name] = one(0);
  }
  return out;
}

const b64 = (s) => Buffer.from(s).toString('base64') + '\n';

/** Entries with consistent payload lengths for the types that carry extras. */
const SPECIAL = {
  PIPES_DATA: () => [{ pipe_id: 7, bytes: 5, size: 65536, extra: b64('hello') }],
  FIFO_DATA: () => [{ pipe_id: 8, bytes: 0, extra: '' }],
  SK_QUEUES: () => [{ id_for: 3, length: 3, extra: b64('abc') }, { id_for: 3, length: 1, scm: [{ type: 1, rights: [4, 5] }], extra: b64('z') }],
  TCP_STREAM: () => [{ inq_len: 2, inq_seq: 1, outq_len: 3, outq_seq: 2, opt_mask: 3, snd_wscale: 7, mss_clamp: 1460, extra: { inq: b64('in'), outq: b64('out') } }],
  IPCNS_SEM: () => [{ desc: { key: 1, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o600, id: 3 }, nsems: 3, extra: [1, 2, 65535] }],
  IPCNS_MSG: () => [{ desc: { key: 2, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o600, id: 4 }, qbytes: 16384, qnum: 2, extra: [{ mtype: 5, msize: 13 }, b64('first message'), { mtype: 9, msize: 8 }, b64('second!!')] }],
  // old-style shm: the segment follows the entry (no in_pagemaps)
  IPCNS_SHM: () => [
    { desc: { key: 3, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o600, id: 5 }, size: 6, extra: b64('shm!!!') },
    { desc: { key: 4, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o600, id: 6 }, size: 4096, in_pagemaps: true, extra: '' },
  ],
  BPFMAP_DATA: () => [{ map_id: 1, keys_bytes: 8, values_bytes: 16, count: 2, extra: b64('kkkkkkkkvvvvvvvvvvvvvvvv') }],
  PAGEMAP: () => [{ pages_id: 3 }, { vaddr: '0x7f0000000000', compat_nr_pages: 0, flags: 'PE_LAZY | PE_PRESENT', nr_pages: 2 }, { vaddr: 4096, compat_nr_pages: 1, in_parent: true }],
};

const GHOSTS = {
  'ghost file with data': { magic: 'GHOST_FILE', entries: [{ uid: 0, gid: 0, mode: 0o100644, size: 11, dev: '8:1', ino: 42, extra: b64('ghost data!') }] },
  'ghost file in chunks': {
    magic: 'GHOST_FILE',
    entries: [{ uid: 0, gid: 0, mode: 0o100644, dev: 2049, ino: 43, chunks: true, size: 20000 }, { len: 3, off: 0, extra: b64('abc') }, { len: 2, off: 16384, extra: b64('de') }],
  },
  'ghost directory': { magic: 'GHOST_FILE', entries: [{ uid: 0, gid: 0, mode: 0o40755, rdev: '0:0', extra: '' }] },
};

function roundTrip(doc, label) {
  const bytes = encodeImage(doc);
  for (const form of ['plain', 'pretty']) {
    const text = imageToJsonText(bytes, form);
    const again = encodeImage(parseImageJson(text));
    assert.ok(again.equals(bytes), `${label}: ${form} JSON does not re-encode to the same bytes`);
    assert.equal(imageToJsonText(again, form), text, `${label}: ${form} JSON is not stable`);
  }
  return bytes;
}

test('every decodable image type round-trips from JSON written here', () => {
  const types = IMAGE_TYPES.filter((t) => t.message);
  assert.ok(types.length >= 65);
  for (const t of types) {
    const entries = SPECIAL[t.name]?.() ?? (t.layout === 'ghost' ? null : [sample(messagePlan(t.message)), sample(messagePlan(t.message), 0, 7)]);
    if (!entries) continue;
    const bytes = roundTrip({ magic: t.name, entries }, t.name);
    assert.equal(decodeImage(bytes).magic, t.name);
    assert.equal(imageInfo(bytes).count, t.layout === 'pagemap' ? entries.length - 1 : entries.length, `${t.name}: info count`);
  }
});

for (const [label, doc] of Object.entries(GHOSTS)) {
  test(`${label} round-trips and reads back its data`, () => {
    roundTrip(doc, label);
    const back = decodeImage(encodeImage(doc));
    assert.equal(back.entries.length, doc.entries.length);
  });
}

test('types upstream CRIT cannot decode (SIGNAL, PIDFD, BINFMT_MISC) decode here', () => {
  const docs = [
    { magic: 'SIGNAL', entries: [{ siginfo: b64('x'.repeat(128)) }] },
    { magic: 'PIDFD', entries: [{ id: 1, ino: 77, pid: 42, nspid: 42, flags: 0o2000000, fown: { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 } }] },
    { magic: 'BINFMT_MISC', entries: [{ name: 'qemu-arm', enabled: true, interpreter: '/usr/bin/qemu-arm', flags: 'F', extension: '', magic: '7f454c46', mask: 'ffffffff', offset: 0 }] },
  ];
  for (const doc of docs) {
    const text = imageToJsonText(roundTrip(doc, doc.magic), 'plain');
    assert.equal(JSON.parse(text).magic, doc.magic);
  }
});

test('human forms: flags, dev, ipadd v4/v6, hex inheritance, unix names, dict', () => {
  const opts = { so_sndbuf: 1, so_rcvbuf: 1, so_snd_tmo_sec: 0, so_snd_tmo_usec: 0, so_rcv_tmo_sec: 0, so_rcv_tmo_usec: 0 };
  const pretty = (doc) => JSON.parse(imageToJsonText(encodeImage(doc), 'pretty')).entries[0];
  const vma = pretty({ magic: 'VMAS', entries: [{ start: 4096, end: 8192, pgoff: 0, shmid: 0, prot: 5, flags: 0x122, status: 1 + 2 ** 31 + 2 ** 29, fd: -1 }] });
  assert.equal(vma.start, '0x1000');
  assert.equal(vma.prot, 'PROT_READ | PROT_EXEC');
  assert.equal(vma.flags, 'MAP_PRIVATE | MAP_ANON | MAP_GROWSDOWN');
  assert.equal(vma.status, 'VMA_AREA_REGULAR | VMA_UNSUPP | 0x20000000');
  assert.equal(vma.fd, -1);
  const isk = pretty({ magic: 'INETSK', entries: [{ id: 1, ino: 2, family: 10, type: 1, proto: 6, state: 10, src_port: 80, dst_port: 0, flags: 2, backlog: 5, src_addr: ['::ffff:127.0.0.1'], dst_addr: ['2001:db8::1'], opts, fown: { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 } }] });
  assert.deepEqual([isk.family, isk.type, isk.proto, isk.state], ['INET6', 'STREAM', 'TCP', 'LISTEN']);
  assert.deepEqual(isk.src_addr, ['::ffff:7f00:1']);
  assert.deepEqual(isk.dst_addr, ['2001:db8::1']);
  const v4 = pretty({ magic: 'INETSK', entries: [{ id: 1, ino: 2, family: 2, type: 2, proto: 17, state: 7, src_port: 53, dst_port: 0, flags: 0, backlog: 0, src_addr: ['127.0.0.1'], opts, fown: { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 } }] });
  assert.deepEqual(v4.src_addr, ['127.0.0.1']);
  const plainV4 = JSON.parse(imageToJsonText(encodeImage({ magic: 'INETSK', entries: [{ ...v4, src_addr: ['127.0.0.1'] }] }), 'plain')).entries[0];
  assert.deepEqual(plainV4.src_addr, [16777343]);
  const g = pretty({ magic: 'GHOST_FILE', entries: [{ uid: 0, gid: 0, mode: 0o20644, rdev: '136:3', dev: '254:1', extra: '' }] });
  assert.equal(g.rdev, '136:3');
  assert.equal(g.dev, '254:1');
  const sa = pretty({ magic: 'SIGACT', entries: [{ sigaction: 0x401000, flags: 0x14000000, restorer: 0x7f00, mask: 0 }] });
  assert.equal(sa.mask, '0x0');
  const usk = pretty({ magic: 'UNIXSK', entries: [{ id: 1, ino: 2, type: 5, state: 1, flags: 0, uflags: 0, backlog: 0, peer: 0, fown: { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 }, opts, name: '/tmp/x.sock=00' }] });
  assert.equal(usk.name, '/tmp/x.sock=00');
  assert.equal(usk.type, 'SEQPACKET');
});

test('strings that are not UTF-8 survive decode -> encode (as U+DC80..U+DCFF)', () => {
  const bad = Buffer.from('/tmp/bad\xffname\xc3', 'latin1');
  // hand-built reg_file_entry: id=1, flags=0, pos=0, name=<bad bytes>
  const fown = Buffer.from([0x08, 0, 0x10, 0, 0x18, 0, 0x20, 0, 0x28, 0]);
  const msg = Buffer.concat([Buffer.from([0x08, 0x01, 0x10, 0x00, 0x18, 0x00, 0x2a, fown.length]), fown, Buffer.from([0x32, bad.length]), bad]);
  const img = Buffer.concat([Buffer.from([0x19, 0x43, 0x56, 0x54, 0x36, 0x36, 0x36, 0x50]), Buffer.from([msg.length, 0, 0, 0]), msg]);
  const text = imageToJsonText(img, 'plain');
  assert.match(text, /\\udcff/);
  assert.ok(encodeImage(parseImageJson(text)).equals(img));
});

test('fields unknown to the schema are kept and written back', () => {
  const base = encodeImage({ magic: 'PSTREE', entries: [{ pid: 1, ppid: 0, pgid: 1, sid: 1 }] });
  // append field 99 (varint 5) to the entry
  const payload = Buffer.concat([base.subarray(12), Buffer.from([0x98, 0x06, 0x05])]);
  const img = Buffer.concat([base.subarray(0, 8), Buffer.from([payload.length, 0, 0, 0]), payload]);
  const doc = JSON.parse(imageToJsonText(img, 'pretty'));
  assert.ok(doc.entries[0][UNKNOWN_KEY]);
  assert.ok(encodeImage(parseImageJson(imageToJsonText(img, 'plain'))).equals(img));
});

test('64-bit values keep full precision through JSON', () => {
  const doc = { magic: 'RLIMIT', entries: [{ cur: '18446744073709551615', max: 18446744073709551615n }] };
  const text = imageToJsonText(encodeImage(doc), 'plain');
  assert.equal(text, '{"magic": "RLIMIT", "entries": [{"cur": 18446744073709551615, "max": 18446744073709551615}]}');
  assert.ok(encodeImage(parseImageJson(text)).equals(encodeImage(doc)));
});
