import { listConnections } from '../../connections/index.js';
import type { AppContext } from '../../context.js';
import type { MetadataDb } from '../../db/index.js';
import { SecretsMasker } from '../../security/secrets-masker.js';
import { getVariable, listVariableKeys } from '../../variables/index.js';

const REFRESH_MS = 5_000;

/**
 * The webserver's secrets masker: every connection password and every variable with a sensitive
 * key, as stored now (plus those of the webserver's own environment), reloaded every few seconds.
 * Logs, rendered fields and XComs pass through it when served, so a secret is hidden from a Viewer
 * even in a log written before masking existed, or by a process that never read it by name.
 */
export class ServedSecrets {
  private current: { masker: SecretsMasker; loadedAt: number } | null = null;
  private loading: Promise<SecretsMasker> | null = null;

  constructor(
    private readonly app: AppContext,
    private readonly store: MetadataDb,
  ) {}

  async masker(now = Date.now()): Promise<SecretsMasker> {
    if (this.current && now - this.current.loadedAt < REFRESH_MS) return this.current.masker;
    this.loading ??= this.load(now).finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async load(now: number): Promise<SecretsMasker> {
    const core = this.app.config.values.core;
    const masker = new SecretsMasker({
      enabled: core.hide_sensitive_var_conn_fields,
      extraSensitiveNames: core.sensitive_var_conn_names,
    });
    masker.addEnvironment(process.env);
    for (const conn of await listConnections(this.store, this.app.fernet)) masker.addConnection(conn);
    for (const { key } of await listVariableKeys(this.store)) {
      if (!masker.isSensitiveName(key)) continue;
      try {
        masker.addVariable(key, await getVariable(this.store, this.app.fernet, key, {}));
      } catch {
        // Encrypted under another fernet key: nobody can read it, so nothing to hide.
      }
    }
    this.current = { masker, loadedAt: now };
    return masker;
  }
}
