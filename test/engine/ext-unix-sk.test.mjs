// A datagram socket connected to a server outside the dumped tree: refused without --ext-unix-sk
// (the client keeps running), dumped with it, like CRIU 4.2 did for the same program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { alive, ckpt, compile, CORPUS, eventually, imageSet, kill, launch, needPtrace, workDir } from './helpers.mjs';
import { decodeAll, fdKinds } from './compare.mjs';

test('external unix socket: refused without --ext-unix-sk, dumped with it', async (t) => {
  if (!needPtrace(t)) return;
  const dir = workDir('ext-unix-sk');
  const srvDir = join(dir, 'server');
  mkdirSync(srvDir);
  const server = await launch(compile('ext-unix-sk-server', dir), [join(dir, 'server.sock')], srvDir);
  let client;
  try {
    client = await launch(compile('ext-unix-sk', dir), [join(dir, 'server.sock')]);
    const img = join(dir, 'img');
    const r = ckpt(['dump', '-t', String(client.pid), '-D', img]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /external unix socket/);
    assert.match(r.stderr, new RegExp(`task ${client.pid}`));
    assert.equal(existsSync(join(img, 'inventory.img')), false);
    const before = client.lines().length;
    await eventually(() => assert.ok(alive(client.pid) && client.lines().length > before, 'client keeps running after the refused dump'));

    const img2 = join(dir, 'img2');
    const r2 = ckpt(['dump', '-t', String(client.pid), '-D', img2, '--ext-unix-sk']);
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(alive(client.pid), false);
    assert.ok(alive(server.pid), 'the external server is not touched');
    const ref = join(CORPUS, 'ext-unix-sk');
    if (existsSync(ref) || process.env.CI) { // the corpus is required under CI
      assert.deepEqual(imageSet(img2), imageSet(ref).filter((f) => f !== 'stats-restore'));
      const ours = await decodeAll(img2), theirs = await decodeAll(ref);
      assert.deepEqual(fdKinds(ours), fdKinds(theirs));
      const usk = (imgs) => imgs['files.img'].entries.filter((e) => e.usk).map((e) => [e.usk.type, e.usk.state, e.usk.uflags]);
      assert.deepEqual(usk(ours), usk(theirs));
    }
  } finally {
    if (client) kill(client);
    kill(server);
  }
});
