// In-process timing of the decode hot path (no process start): node bench/prof-decode.mjs FILE [pretty]
import { imageJsonChunks } from '@ckpt/images';
const [file, form = 'plain'] = process.argv.slice(2);
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  let n = 0;
  for (const c of imageJsonChunks(file, form)) n += c.length;
  console.log(`${form}: ${(performance.now() - t0).toFixed(0)} ms, ${n} chars`);
}
