import { RemoteError, ValidationError } from '../../errors.js';
import { BaseOperator, type BaseOperatorArgs } from '../../dag/base-operator.js';
import { durationToMs, type Duration } from '../../dag/duration.js';
import type { TaskContext } from '../../dag/execution.js';
import { abortReason, resolveAws, waitFor, type AwsArgs } from './base.js';

/** Where and as whom statements run through the Redshift Data API (Airflow's redshift_data_api_kwargs). */
export interface RedshiftDataApiArgs {
  database: string;
  /** A provisioned cluster… */
  clusterIdentifier?: string;
  /** …or a Redshift Serverless workgroup. */
  workgroupName?: string;
  /** Temporary credentials for this database user… */
  dbUser?: string;
  /** …or a Secrets Manager secret holding them. */
  secretArn?: string;
  statementName?: string;
  withEvent?: boolean;
  /** Wait for the statement to finish; default true. */
  waitForCompletion?: boolean;
  /** Between DescribeStatement calls; default 10 seconds. */
  pollInterval?: Duration;
}

export interface S3ToRedshiftOperatorArgs extends BaseOperatorArgs, AwsArgs {
  /** Target schema (templated); leave out for the search path's. */
  schema?: string;
  /** Target table (templated). */
  table: string;
  s3Bucket: string;
  s3Key: string;
  /** Columns the file fills, in file order (templated). */
  columnList?: string[];
  /** COPY options, e.g. ['CSV', "DELIMITER ','", 'IGNOREHEADER 1'] (templated). */
  copyOptions?: string[];
  /** APPEND (COPY only), REPLACE (empty the table first) or UPSERT (merge on upsertKeys). */
  method?: 'APPEND' | 'REPLACE' | 'UPSERT';
  upsertKeys?: string[];
  /** The Redshift Data API settings; required (statements run through the Data API) (templated). */
  redshiftDataApiKwargs: RedshiftDataApiArgs;
}

/**
 * Loads S3 data into a Redshift table with COPY, run through the Redshift Data API (Airflow's
 * S3ToRedshiftOperator with redshift_data_api_kwargs). COPY names the connection's role_arn
 * (aws_iam_role) or else its resolved access keys; the statement is only ever logged with the
 * credentials replaced by ***.
 */
export class S3ToRedshiftOperator extends BaseOperator {
  static override templateFields = [
    's3Bucket',
    's3Key',
    'schema',
    'table',
    'columnList',
    'copyOptions',
    'method',
    'redshiftDataApiKwargs',
  ];
  schema: string | undefined;
  table: string;
  s3Bucket: string;
  s3Key: string;
  columnList: string[];
  copyOptions: string[];
  method: string;
  redshiftDataApiKwargs: RedshiftDataApiArgs;
  private readonly opts: S3ToRedshiftOperatorArgs;
  private readonly pollMs: number;

  constructor(args: S3ToRedshiftOperatorArgs) {
    super(args);
    for (const k of ['table', 's3Bucket', 's3Key'] as const)
      if (typeof args[k] !== 'string' || !args[k])
        throw new ValidationError(`Task '${this.taskId}': ${k} is required`);
    const api = args.redshiftDataApiKwargs;
    if (!api?.database)
      throw new ValidationError(
        `Task '${this.taskId}': redshiftDataApiKwargs with database and clusterIdentifier or workgroupName is required`,
      );
    if (Boolean(api.clusterIdentifier) === Boolean(api.workgroupName))
      throw new ValidationError(
        `Task '${this.taskId}': redshiftDataApiKwargs needs exactly one of clusterIdentifier and workgroupName`,
      );
    if (args.method === 'UPSERT' && !args.upsertKeys?.length)
      throw new ValidationError(`Task '${this.taskId}': method UPSERT needs upsertKeys`);
    this.schema = args.schema;
    this.table = args.table;
    this.s3Bucket = args.s3Bucket;
    this.s3Key = args.s3Key;
    this.columnList = args.columnList ?? [];
    this.copyOptions = args.copyOptions ?? [];
    this.method = args.method ?? 'APPEND';
    this.redshiftDataApiKwargs = api;
    this.opts = args;
    this.pollMs = durationToMs(api.pollInterval ?? { seconds: 10 }, 'redshiftDataApiKwargs.pollInterval');
    this.uiColor = '#99e699';
  }

  /** The statements for the method, COPY's credentials given as `credentials`. */
  buildSql(credentials: string): string[] {
    if (!['APPEND', 'REPLACE', 'UPSERT'].includes(this.method))
      throw new ValidationError(
        `Task '${this.taskId}': method must be APPEND, REPLACE or UPSERT, not '${this.method}'`,
      );
    const destination = this.schema ? `${this.schema}.${this.table}` : this.table;
    const copyDestination = this.method === 'UPSERT' ? `#${this.table}` : destination;
    const columns = this.columnList.length ? `(${this.columnList.join(', ')})` : '';
    const copy =
      [
        `COPY ${copyDestination} ${columns}`.trimEnd(),
        `FROM 's3://${this.s3Bucket}/${this.s3Key}'`,
        `credentials '${credentials}'`,
        ...this.copyOptions,
      ].join('\n') + ';';
    if (this.method === 'REPLACE') return ['BEGIN;', `DELETE FROM ${destination};`, copy, 'COMMIT;'];
    if (this.method === 'UPSERT') {
      const keys = this.opts.upsertKeys ?? [];
      const where = keys.map((k) => `${this.table}.${k} = ${copyDestination}.${k}`).join(' AND ');
      return [
        `CREATE TABLE ${copyDestination} (LIKE ${destination} INCLUDING DEFAULTS);`,
        copy,
        'BEGIN;',
        `DELETE FROM ${destination} USING ${copyDestination} WHERE ${where};`,
        `INSERT INTO ${destination} SELECT * FROM ${copyDestination};`,
        'COMMIT;',
      ];
    }
    return [copy];
  }

  override async execute(context: TaskContext): Promise<string> {
    const api = this.redshiftDataApiKwargs;
    const rsd = await import('@aws-sdk/client-redshift-data');
    const { config, roleArn } = await resolveAws(context, this.opts, 'redshift_data');
    const client = new rsd.RedshiftDataClient(config);
    const send = { abortSignal: context.signal };
    const secrets: string[] = [];
    try {
      let credentials: string;
      if (roleArn) credentials = `aws_iam_role=${roleArn}`;
      else {
        const keys = await client.config.credentials();
        secrets.push(keys.secretAccessKey, ...(keys.sessionToken ? [keys.sessionToken] : []));
        credentials = `aws_access_key_id=${keys.accessKeyId};aws_secret_access_key=${keys.secretAccessKey}`;
        if (keys.sessionToken) credentials += `;token=${keys.sessionToken}`;
      }
      const sqls = this.buildSql(credentials);
      const shown = this.buildSql('***').join('\n');
      context.log.info(`Executing COPY command...\n${shown}`);
      const target = {
        Database: api.database,
        ...(api.clusterIdentifier ? { ClusterIdentifier: api.clusterIdentifier } : {}),
        ...(api.workgroupName ? { WorkgroupName: api.workgroupName } : {}),
        ...(api.dbUser ? { DbUser: api.dbUser } : {}),
        ...(api.secretArn ? { SecretArn: api.secretArn } : {}),
        ...(api.statementName ? { StatementName: api.statementName } : {}),
        ...(api.withEvent !== undefined ? { WithEvent: api.withEvent } : {}),
      };
      const started =
        sqls.length === 1
          ? await client.send(new rsd.ExecuteStatementCommand({ ...target, Sql: sqls[0]! }), send)
          : await client.send(new rsd.BatchExecuteStatementCommand({ ...target, Sqls: sqls }), send);
      const id = started.Id;
      if (!id) throw new RemoteError('The Redshift Data API returned no statement id');
      context.log.info(`Redshift Data API statement ${id} submitted`);
      if (api.waitForCompletion === false) return id;
      const statement = await waitFor(
        context,
        this.pollMs,
        () => client.send(new rsd.DescribeStatementCommand({ Id: id }), send),
        (s) => ['FINISHED', 'FAILED', 'ABORTED'].includes(s.Status ?? ''),
      );
      if (statement.Status !== 'FINISHED')
        throw new RemoteError(
          `Redshift statement ${id} ${statement.Status}${statement.Error ? `: ${statement.Error}` : ''}`,
        );
      context.log.info('COPY command complete...');
      return id;
    } catch (error) {
      throw withoutSecrets(abortReason(context, error), secrets);
    } finally {
      client.destroy();
    }
  }
}

/**
 * The error with each secret in its message and stack replaced by ***: Redshift and the Data API
 * may quote the COPY statement, credentials and all, back in an error ("syntax error at or near").
 */
function withoutSecrets(error: unknown, secrets: readonly string[]): unknown {
  if (!(error instanceof Error)) return error;
  for (const secret of secrets.filter(Boolean)) {
    error.message = error.message.split(secret).join('***');
    if (error.stack) error.stack = error.stack.split(secret).join('***');
  }
  return error;
}
