import type { MetadataDb } from '../db/index.js';

/** What the run/TI operations need: anything that can hand out the metadata DB (AppContext does). */
export interface OpsContext {
  db(): Promise<MetadataDb>;
}
