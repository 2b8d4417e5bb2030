import { ValidationError } from '../../errors.js';
import { BaseSensorOperator, type BaseSensorArgs } from '../../dag/sensors/base.js';
import type { TaskContext } from '../../dag/execution.js';
import { abortReason, resolveAws, type AwsArgs } from './base.js';

/** One object the sensor found, as checkFn sees it. */
export interface S3ObjectInfo {
  key: string;
  size: number;
}

export interface S3KeySensorArgs extends BaseSensorArgs, AwsArgs {
  /** Key(s) to wait for: relative to bucketName, or full `s3://bucket/key` URLs (templated). */
  bucketKey: string | string[];
  /** Bucket; leave out when bucketKey holds full s3:// URLs (templated). */
  bucketName?: string;
  /** Treat keys as Unix shell-style wildcards (`*`, `?`, `[seq]`), like Python's fnmatch. */
  wildcardMatch?: boolean;
  /** Further condition on the matching objects (all keys' matches together); default: any exist. */
  checkFn?: (objects: S3ObjectInfo[], context: TaskContext) => boolean | Promise<boolean>;
}

/** Splits `s3://bucket/key` into its parts. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const match = /^s3a?:\/\/([^/]+)\/(.*)$/.exec(url);
  if (!match || !match[2]) throw new ValidationError(`'${url}' is not an s3://bucket/key URL`);
  return { bucket: match[1]!, key: match[2] };
}

/** Python's fnmatch.translate for S3 keys: `*` also matches `/`, as in Airflow. */
export function wildcardToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) out += '\\[';
      else {
        let set = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (set.startsWith('!')) set = '^' + set.slice(1);
        else if (set.startsWith('^')) set = '\\' + set;
        out += `[${set}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\/\]]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

/** Waits for one or more S3 keys to exist (Airflow's S3KeySensor). */
export class S3KeySensor extends BaseSensorOperator {
  static override templateFields = ['bucketKey', 'bucketName'];
  bucketKey: string | string[];
  bucketName: string | undefined;
  private readonly opts: S3KeySensorArgs;

  constructor(args: S3KeySensorArgs) {
    super({ pokeInterval: { seconds: 60 }, ...args });
    const keys = Array.isArray(args.bucketKey) ? args.bucketKey : [args.bucketKey];
    if (keys.length === 0 || keys.some((k) => typeof k !== 'string' || !k))
      throw new ValidationError(`Sensor '${this.taskId}': bucketKey must be a key or a list of keys`);
    this.bucketKey = args.bucketKey;
    this.bucketName = args.bucketName;
    this.opts = args;
  }

  /** (bucket, key) pairs after rendering. */
  private targets(): { bucket: string; key: string }[] {
    const keys = Array.isArray(this.bucketKey) ? this.bucketKey : [this.bucketKey];
    return keys.map((key) => {
      if (!this.bucketName) return parseS3Url(key);
      if (/^s3a?:\/\//.test(key))
        throw new ValidationError(
          `Sensor '${this.taskId}': with bucketName given, bucketKey must be a key relative to it, not '${key}'`,
        );
      return { bucket: this.bucketName, key };
    });
  }

  async poke(context: TaskContext): Promise<boolean> {
    const targets = this.targets();
    const { config } = await resolveAws(context, this.opts, 's3');
    const { S3Client, HeadObjectCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const client = new S3Client(config);
    try {
      const found: S3ObjectInfo[] = [];
      for (const { bucket, key } of targets) {
        context.log.info(`Poking for key : s3://${bucket}/${key}`);
        const matches: S3ObjectInfo[] = [];
        if (this.opts.wildcardMatch) {
          const prefix = key.split(/[[*?]/, 1)[0] ?? '';
          const regex = wildcardToRegExp(key);
          let token: string | undefined;
          do {
            const page = await client.send(
              new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
              { abortSignal: context.signal },
            );
            for (const o of page.Contents ?? [])
              if (o.Key && regex.test(o.Key)) matches.push({ key: o.Key, size: o.Size ?? 0 });
            token = page.IsTruncated ? page.NextContinuationToken : undefined;
          } while (token);
        } else {
          try {
            const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), {
              abortSignal: context.signal,
            });
            matches.push({ key, size: head.ContentLength ?? 0 });
          } catch (error) {
            // Missing key: not yet. Anything else (no such bucket, access denied) fails the try.
            if ((error as { name?: string }).name !== 'NotFound') throw error;
          }
        }
        if (matches.length === 0) return false;
        found.push(...matches);
      }
      return this.opts.checkFn ? await this.opts.checkFn(found, context) : true;
    } catch (error) {
      throw abortReason(context, error);
    } finally {
      client.destroy();
    }
  }
}
