// timerfd (CRIU's timerfd.c): clock, ticks, settime flags and the timer's value and interval from
// fdinfo; restored with the same clock, settime flags and what remained of the timer.
import { DumpError } from '../log.js';
import { b, n } from '../restore/read.js';
import { fdinfoNeed } from './common.js';
import type { Kind } from './kind.js';
import { ObjKind } from '../restore/plan-wire.js';

export const timerfd: Kind = {
  type: 'TIMERFD',
  field: 'tfd',
  detect: ({ link }) => link === 'anon_inode:[timerfd]',
  dump(files, { id, flags, fown, info: { lines }, what }) {
    const pair = (k: string) => {
      const m = /\((\d+),\s*(\d+)\)/.exec(fdinfoNeed(lines, k, what));
      if (!m) throw new DumpError(`Can't dump ${what}: bad ${k} in fdinfo`);
      return [BigInt(m[1]), BigInt(m[2])];
    };
    const [vsec, vnsec] = pair('it_value:'), [isec, insec] = pair('it_interval:');
    files.entries.push({
      type: 'TIMERFD', id, tfd: {
        id, flags, fown, clockid: Number(fdinfoNeed(lines, 'clockid:', what)), ticks: BigInt(fdinfoNeed(lines, 'ticks:', what)),
        settime_flags: parseInt(fdinfoNeed(lines, 'settime flags:', what), 8), vsec, vnsec, isec, insec,
      },
    });
  },
  plan(_objs, f, _fileId, what) {
    const t = f.tfd;
    return { kind: ObjKind.TIMERFD, label: `${what} (timerfd)`, flags: n(t.flags), nums: [b(t.clockid), b(t.ticks), b(t.isec), b(t.insec), b(t.vsec), b(t.vnsec), b(t.settime_flags)] };
  },
};
