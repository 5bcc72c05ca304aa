// FIFOs (CRIU's fifo.c): a REG entry for the path (regf_id) and the FIFO entry, the unread data once per
// FIFO in fifo-data.img. On restore the FIFO is opened by path (an O_RDWR keeper per path while
// opening), the first object of it refilled from fifo-data.
import { statSync } from 'node:fs';
import { imageFileName } from '@ckpt/images';
import type { FileObjects } from '../restore/objects.js';
import { n, RestoreError } from '../restore/read.js';
import type { Obj } from '../restore/types.js';
import { fownOf, PerRun } from './common.js';
import type { Kind } from './kind.js';
import { collectPipeData, loadPipeData } from './pipe.js';
import { regEntry } from './reg.js';
import { externalName, externalPath } from './external.js';
import { ObjKind } from '../restore/plan-wire.js';

export const fifo: Kind = {
  type: 'FIFO',
  field: 'fifo',
  detect: ({ link, st }) => st.isFIFO() && !link.startsWith('pipe:'),
  dump(files, d) {
    const { id, link, flags, fown, st, procFd } = d;
    const regId = files.newId();
    const ext = externalName(files, d);
    const r = regEntry(regId, ext ?? link, flags, 0n, st);
    if (ext) r.ext = true;
    r.fown = fown;
    files.entries.push({ type: 'REG', id: regId, reg: r });
    files.entries.push({ type: 'FIFO', id, fifo: { id, pipe_id: st.ino, regf_id: regId } });
    collectPipeData(files, procFd, st.ino, files.fifoData);
  },
  collect(objs) {
    fifoData.of(objs);
  },
  plan(objs, f, _fileId, what) {
    const r = objs.file(n(f.fifo.regf_id))?.reg;
    if (!r) throw new RestoreError(`${what}: FIFO ${f.fifo.pipe_id}: file id ${f.fifo.regf_id} is not in ${imageFileName('files')}`);
    const path = r.ext ? externalPath(objs, r.name, what) : (r.name as string);
    let st;
    try { st = statSync(path); } catch { throw new RestoreError(`${what}: FIFO ${path} is missing`); }
    if (!st.isFIFO()) throw new RestoreError(`${what}: ${path} is not a FIFO`);
    const ino = n(f.fifo.pipe_id);
    const data = fifoData.of(objs);
    const d = data.get(ino);
    data.delete(ino);
    const obj: Obj = { kind: ObjKind.FIFO, label: `${what} (FIFO ${path})`, path, flags: n(r.flags), fifo: d ?? { size: 0, data: Buffer.alloc(0) } };
    fownOf(obj, r.fown);
    return obj;
  },
  inheritKeys: (f) => [`pipe:[${f.fifo.pipe_id}]`],
};

/** fifo-data by pipe inode; taken by the first object of each FIFO */
const fifoData = new PerRun((objs: FileObjects) => loadPipeData(objs.opts.dir, 'fifo-data', 'FIFO data'));
