// Our emulation of Python's text rules (json ensure_ascii, quopri, "%.1f"
// sizes) against python3 itself on many generated inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { humanSize, pyDumps, qpDecode, qpEncode } from '@ckpt/images';
import { rng } from './lib/rng.mjs';

const PY = `
import sys, json, quopri, base64
cases = json.load(sys.stdin)
out = {"qp": [], "json": [], "size": []}
for h in cases["qp"]:
    out["qp"].append(quopri.encodestring(bytes.fromhex(h)).decode("latin1"))
for s in cases["json"]:
    out["json"].append(json.dumps(s) + "\\n" + json.dumps({"k": [s, {}, []]}, indent=4))
def human_readable(num):
    for unit in ['', 'K', 'M', 'G', 'T', 'P', 'E', 'Z']:
        if num < 1024.0:
            if int(num) == num:
                return "%d%sB" % (num, unit)
            else:
                return "%.1f%sB" % (num, unit)
        num /= 1024.0
    return "%.1fYB" % num
for n in cases["size"]:
    out["size"].append(human_readable(n))
json.dump(out, sys.stdout)
`;

test('quopri, JSON escaping and size strings match python3', (t) => {
  let py;
  try {
    execFileSync('python3', ['-c', 'print(1)']);
    py = true;
  } catch {
    py = false;
  }
  if (!py) {
    if (process.env.CI) throw new Error('python3 is required for this test under CI');
    return t.skip('python3 not found');
  }
  const r = rng(42);
  const pick = (alphabet, n) => Array.from({ length: n }, () => alphabet[Math.floor(r() * alphabet.length)]);
  const qp = [];
  const special = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x2e, 0x3d, 0x7f, 0xff, 0x41, 0x61, 0x2f];
  for (let i = 0; i < 400; i++) {
    const n = Math.floor(r() * 200);
    const bytes = r() < 0.5 ? pick(special, n) : Array.from({ length: n }, () => Math.floor(r() * 256));
    qp.push(Buffer.from(bytes).toString('hex'));
  }
  qp.push(Buffer.from('x'.repeat(80)).toString('hex'), Buffer.from('a ').toString('hex'), Buffer.from('.').toString('hex'), Buffer.from('\r\nab \r\n.').toString('hex'));
  const json = [];
  for (let i = 0; i < 300; i++) {
    json.push(String.fromCodePoint(...Array.from({ length: Math.floor(r() * 20) }, () => [0, 9, 10, 34, 47, 92, 127, 0xe9, 0x1f600, 0xdcff, 65][Math.floor(r() * 11)] + (r() < 0.3 ? Math.floor(r() * 50) : 0))));
  }
  const size = [0, 1, 1023, 1024, 1025, 1280, 1536, 1126, 4915, 65536, 1048575, 1048576 * 5.25, 2 ** 40 * 3.05, 2 ** 70 * 2, 2 ** 80 * 7];
  for (let i = 0; i < 300; i++) size.push(Math.floor(r() * 2 ** (r() * 50)));
  const out = JSON.parse(execFileSync('python3', ['-c', PY], { input: JSON.stringify({ qp, json, size }) }).toString());
  qp.forEach((h, i) => {
    const enc = qpEncode(Buffer.from(h, 'hex'));
    assert.equal(enc, out.qp[i], `quopri of ${h}`);
    // quopri normalises line ends (CRLF <-> LF, as Python does): exact only without CR LF
    if (!/^(..)*0d0a/.test(h)) assert.equal(qpDecode(enc).toString('hex'), h, `quopri decode of ${JSON.stringify(enc)}`);
  });
  json.forEach((s, i) => assert.equal(pyDumps(s) + '\n' + pyDumps({ k: [s, {}, []] }, 4), out.json[i], `json of ${JSON.stringify(s)}`));
  size.forEach((n, i) => assert.equal(humanSize(n), out.size[i], `size ${n}`));
});
