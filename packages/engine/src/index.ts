// @ckpt/engine: checkpoint (dump) and feature check of live process trees.
export { dump, type DumpOptions, type DumpResult } from './dump.js';
export { check, type CheckResult } from './check.js';
export { Log, DumpError } from './log.js';
export { native } from './native.js';
