export { airflowHome, configFilePath } from './home.js';
export {
  loadConfig,
  getValueString,
  type LoadedConfig,
  type ResolvedValue,
  type ValueSource,
} from './load.js';
export {
  ensureDefaultConfig,
  generateFernetKey,
  generateSecretKey,
  renderDefaultConfig,
} from './default-file.js';
export { configSchema, type UpdraftConfig, type SectionName, type KeySpec } from './schema.js';
export { formatValue } from './parse-value.js';
