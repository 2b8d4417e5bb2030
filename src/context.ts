import { ensureDefaultConfig, loadConfig, type LoadedConfig } from './config/index.js';
import { configFilePath } from './config/home.js';
import { openMetadataDb, type MetadataDb } from './db/index.js';
import { createLogger, type Logger } from './log.js';
import { createFernet, type Fernet } from './security/fernet.js';

/**
 * What every command and service starts from: validated configuration, the metadata DB (opened on
 * first use), the fernet for secrets, and a logger. Built once per process.
 */
export interface AppContext {
  readonly config: LoadedConfig;
  readonly fernet: Fernet;
  readonly log: Logger;
  /** Open (once) and return the metadata DB. */
  db(): Promise<MetadataDb>;
  close(): Promise<void>;
}

export interface ContextOptions {
  env?: NodeJS.ProcessEnv;
  /** Write the default airflow.cfg if missing (commands do; library users may not want it). */
  writeDefaultConfig?: boolean;
  log?: Logger;
  /** Where config warnings go (default: the logger). */
  onWarning?: (message: string) => void;
}

export function createContext(options: ContextOptions = {}): AppContext {
  const env = options.env ?? process.env;
  if (options.writeDefaultConfig !== false) {
    const file = configFilePath(env);
    const config = loadConfig({ env, file });
    ensureDefaultConfig(file, config.home);
  }
  const config = loadConfig({ env });
  const log = options.log ?? createLogger(config.values.logging.logging_level);
  for (const w of config.warnings) (options.onWarning ?? log.warn)(w);
  const fernet = createFernet(config.values.core.fernet_key);
  let opened: Promise<MetadataDb> | undefined;
  return {
    config,
    fernet,
    log,
    db() {
      if (opened) return opened;
      const opening = openMetadataDb(config.values.database.sql_alchemy_conn, {
        poolSize: config.values.database.sql_alchemy_pool_size,
        baseDir: config.home,
        maxRetries: config.values.database.max_db_retries,
      });
      // A failed open is not kept: the next call tries again (a server that was away may be back).
      opening.catch(() => {
        if (opened === opening) opened = undefined;
      });
      opened = opening;
      return opening;
    },
    async close() {
      if (opened) await (await opened.catch(() => undefined))?.close();
      opened = undefined;
    },
  };
}
