// JSON paths as crit prints them: entries[3].isk.src_addr[0], $.entries[0]["odd key"].

export type Step = string | number;

export function parsePath(text: string): Step[] {
  const src = text.trim().replace(/^\$\.?/, '');
  const steps: Step[] = [];
  const re = /\.?([A-Za-z_]\w*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/y;
  let at = 0;
  while (at < src.length) {
    re.lastIndex = at;
    const m = re.exec(src);
    if (!m || (m[1] !== undefined && at > 0 && src[at] !== '.')) throw new Error(`cannot read the JSON path ${JSON.stringify(text)} at character ${at + 1} (expected e.g. entries[0].reg.name)`);
    if (m[1] !== undefined) steps.push(m[1]);
    else if (m[2] !== undefined) steps.push(Number(m[2]));
    else steps.push(JSON.parse(`"${m[3]}"`) as string);
    at = re.lastIndex;
  }
  if (!steps.length) throw new Error('empty JSON path');
  return steps;
}

export function pathText(steps: Step[]): string {
  return steps.map((s, i) => (typeof s === 'number' ? `[${s}]` : /^[A-Za-z_]\w*$/.test(s) ? (i ? '.' : '') + s : `[${JSON.stringify(s)}]`)).join('');
}
