// In-process timing of an explorer (no process start): node bench/prof-x.mjs DIR ps|mems
import { ImageDir, collectPs, psText, collectMems, memsText } from '@ckpt/crit';
const [dir, what] = process.argv.slice(2);
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const d = new ImageDir(dir);
  const lines = what === 'ps' ? [...psText(collectPs(d))] : [...memsText(collectMems(d))];
  console.log(`${what}: ${(performance.now() - t0).toFixed(0)} ms, ${lines.length} lines`);
}
