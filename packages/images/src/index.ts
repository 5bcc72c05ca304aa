// @ckpt/images: the CRIU image format. See README.md for the API with examples.
export { ImageError, type ErrorPlace } from './errors.js';
export { IMAGE_FORMAT, IMAGE_TYPES, IMG_COMMON, IMG_SERVICE, imageFileName, typeByFileName, typeByMagic, typeByName, type ImageType } from './magic.js';
export type { Extra, IpcMessage, TcpQueues } from './extras.js';
export {
  decodeImage, encodeImage, entryToJson, entryToText, imageInfo, imageToJsonText, openSource, readEntries, readHeader, readImageFile,
  writeFileAtomic, writeImageFile, imageJsonChunks, type Entry, type ImageDoc, type JsonForm, type ReadOptions,
} from './image.js';
export { parseImageJson } from './json-input.js';
export { messageFromJson, messageToJson, messageToText, ipText } from './forms.js';
export { decodeMessage, encodeMessage, decodeText, encodeText, UNKNOWN_KEY, type FieldSelection, type FieldValue, type Message, type Scalar } from './wire.js';
export { messagePlan, messageNames, hasMessage, enumValues, type FieldPlan, type MessagePlan, type CriuOptions } from './schema.js';
export { pyDumps, pyString, b64Lines, qpEncode, qpDecode, humanSize, type Json } from './pyjson.js';
export { FLAG_TABLES, DICT_TABLES, TASK, TASK_STATES, VMA, PE, USK, flagsToText } from './tables.js';
export { BufferSource, FileSource, type ByteSource } from './source.js';
export { PageReader, taskPages, shmemPages, type PageRun, type PageReaderOptions } from './pages.js';
export { DirFiles, dumpFiles, type DumpFiles, type FileReader } from './dump-files.js';
