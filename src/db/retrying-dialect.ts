import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import { retryTransient } from './transient-errors.js';
import { retryConnect } from './outage-retry.js';

export interface RetryingDialectOptions {
  /**
   * [database] max_db_retries: how many times opening a connection is tried again while the server
   * is unreachable (refused, reset, timed out) before the error reaches the caller.
   */
  maxConnectRetries?: number;
}

/**
 * Wraps a Kysely dialect so that a statement run on its own (autocommit) is retried when the server
 * reports a deadlock or lock timeout. Inside a transaction a single statement cannot be retried (the
 * server has rolled the whole transaction back), so those are left to `transactionWithRetry`.
 * Opening a connection is retried too while the server is unreachable: nothing was sent yet, so
 * this is safe for every statement, and a server restart or a short network blip does not fail
 * the query that happened to need a new connection. This sits under every query, so no caller has
 * to remember it.
 */
export function withTransientRetry(inner: Dialect, options: RetryingDialectOptions = {}): Dialect {
  const retries = options.maxConnectRetries ?? 0;
  return {
    createAdapter: () => inner.createAdapter(),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createIntrospector: (db) => inner.createIntrospector(db),
    createDriver: () => new RetryingDriver(inner.createDriver(), retries),
  };
}

class RetryingConnection implements DatabaseConnection {
  inTransaction = false;
  constructor(readonly inner: DatabaseConnection) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.inTransaction) return this.inner.executeQuery<R>(query);
    return retryTransient(() => this.inner.executeQuery<R>(query));
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class RetryingDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly connectRetries: number,
  ) {
    // Savepoints exist only where the inner driver has them.
    if (inner.savepoint) this.savepoint = (c, name, compile) => inner.savepoint!(unwrap(c), name, compile);
    if (inner.rollbackToSavepoint) {
      this.rollbackToSavepoint = (c, name, compile) => inner.rollbackToSavepoint!(unwrap(c), name, compile);
    }
    if (inner.releaseSavepoint) {
      this.releaseSavepoint = (c, name, compile) => inner.releaseSavepoint!(unwrap(c), name, compile);
    }
  }
  savepoint?: Driver['savepoint'];
  rollbackToSavepoint?: Driver['rollbackToSavepoint'];
  releaseSavepoint?: Driver['releaseSavepoint'];

  init(): Promise<void> {
    return this.inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const connection =
      this.connectRetries > 0
        ? await retryConnect(() => this.inner.acquireConnection(), this.connectRetries)
        : await this.inner.acquireConnection();
    return new RetryingConnection(connection);
  }
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await this.inner.beginTransaction(unwrap(connection), settings);
    (connection as RetryingConnection).inTransaction = true;
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.commitTransaction(unwrap(connection));
    } finally {
      (connection as RetryingConnection).inTransaction = false;
    }
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.rollbackTransaction(unwrap(connection));
    } finally {
      (connection as RetryingConnection).inTransaction = false;
    }
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(unwrap(connection));
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof RetryingConnection ? connection.inner : connection;
}
