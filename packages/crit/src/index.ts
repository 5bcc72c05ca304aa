// Programmatic access to crit's explorers (the CLI is in cli.ts).
export { ImageDir } from './explore/imagedir.js';
export { FileNames } from './explore/files.js';
export { collectPs, psText, type Task } from './explore/ps.js';
export { collectFds, fdsText, type TaskFds } from './explore/fds.js';
export { collectMems, memsText, type TaskMems, type Mapping } from './explore/mems.js';
export { collectRss, rssText, type TaskRss, type RssRun } from './explore/rss.js';
