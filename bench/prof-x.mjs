// In-process timing of an explorer (no process start), cold (first run) and
// warm: node bench/prof-x.mjs DIR ps|fds|mems|rss
import { ImageDir, collectPs, psText, collectFds, fdsText, collectMems, memsText, collectRss, rssText } from '@ckpt/crit';
const [dir, what] = process.argv.slice(2);
const EXPLORERS = {
  ps: (d) => psText(collectPs(d)),
  fds: (d) => fdsText(collectFds(d)),
  mems: (d) => memsText(collectMems(d)),
  rss: (d) => rssText(collectRss(d)),
};
if (!EXPLORERS[what]) throw new Error(`usage: node bench/prof-x.mjs DIR ${Object.keys(EXPLORERS).join('|')}`);
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const lines = [...EXPLORERS[what](new ImageDir(dir))];
  console.log(`${what} ${i ? 'warm' : 'cold'}: ${(performance.now() - t0).toFixed(1)} ms, ${lines.length} lines`);
}
