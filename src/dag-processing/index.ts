export { importDagFile, bundleDagFile, DAG_FILE_EXTENSIONS, updraftEntryPoint } from './import-dag-file.js';
export { listDagFiles, listExampleFiles, examplesFolder, IGNORE_FILE } from './discover.js';
export { ParsePool } from './parse-pool.js';
export {
  processDagFolderOnce,
  DagProcessor,
  createParsePool,
  discoverFiles,
  type ProcessingStats,
  type ProcessOptions,
} from './processor.js';
export { dagHash, storeParseResult, removeMissingFiles } from './store.js';
export { loadSerializedDag, loadSerializedDags } from './read.js';
