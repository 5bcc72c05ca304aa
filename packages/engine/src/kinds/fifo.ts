// FIFOs (CRIU's fifo.c): a REG entry for the path (regf_id) and the FIFO entry, the unread data once per
// FIFO in fifo-data.img. On restore the FIFO is opened by path (an O_RDWR keeper per path while
// opening), the first object of it refilled from fifo-data. A deleted FIFO is a ghost of its REG entry
// (kinds/reg.ts), made again as a FIFO node and unlinked by the helper once open.
import { statSync } from 'node:fs';
import { imageFileName } from '@ckpt/images';
import type { FileObjects } from '../restore/objects.js';
import { n, RestoreError } from '../restore/read.js';
import type { Obj } from '../restore/types.js';
import { fownOf, PerRun, stripDeleted } from './common.js';
import type { Kind } from './kind.js';
import { collectPipeData, loadPipeData } from './pipe.js';
import { dumpGhost, ghostPath, regEntry } from './reg.js';
import { externalName, externalPath } from './external.js';
import { ObjFlag, ObjKind } from '../restore/plan-wire.js';

export const fifo: Kind = {
  type: 'FIFO',
  field: 'fifo',
  detect: ({ link, st }) => st.isFIFO() && !link.startsWith('pipe:'),
  dump(files, d) {
    const { id, link, flags, fown, st, procFd, what } = d;
    const regId = files.newId();
    const ext = externalName(files, d);
    const r = regEntry(regId, ext ?? (st.nlink === 0 ? stripDeleted(link) : link), flags, 0n, st);
    if (ext) r.ext = true;
    r.fown = fown;
    files.entries.push({ type: 'REG', id: regId, reg: r });
    if (st.nlink === 0) dumpGhost(files, regId, procFd, what);
    files.entries.push({ type: 'FIFO', id, fifo: { id, pipe_id: st.ino, regf_id: regId } });
    collectPipeData(files, procFd, st.ino, files.fifoData);
  },
  collect(objs) {
    fifoData.of(objs);
  },
  plan(objs, f, _fileId, what) {
    const r = objs.file(n(f.fifo.regf_id))?.reg;
    if (!r) throw new RestoreError(`${what}: FIFO ${f.fifo.pipe_id}: file id ${f.fifo.regf_id} is not in ${imageFileName('files')}`);
    const ghost = r.ext ? undefined : ghostPath(objs, n(f.fifo.regf_id), what);
    const path = r.ext ? externalPath(objs, r.name, what) : ghost ?? r.name as string;
    if (ghost === undefined) {
      let st;
      try { st = statSync(path); } catch { throw new RestoreError(`${what}: FIFO ${path} is missing`); }
      if (!st.isFIFO()) throw new RestoreError(`${what}: ${path} is not a FIFO`);
    }
    const ino = n(f.fifo.pipe_id);
    const data = fifoData.of(objs);
    const d = data.get(ino);
    data.delete(ino);
    const obj: Obj = {
      kind: ObjKind.FIFO, label: `${what} (${ghost ? 'deleted ' : ''}FIFO ${r.name})`, path, flags: (n(r.flags) | (ghost ? ObjFlag.GHOST : 0)) >>> 0,
      fifo: d ?? { size: 0, data: Buffer.alloc(0) },
    };
    fownOf(obj, r.fown);
    return obj;
  },
  inheritKeys: (f) => [`pipe:[${f.fifo.pipe_id}]`],
};

/** fifo-data by pipe inode; taken by the first object of each FIFO */
const fifoData = new PerRun((objs: FileObjects) => loadPipeData(objs.opts.dir, 'fifo-data', 'FIFO data'));
