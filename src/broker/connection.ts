import { Redis } from 'ioredis';
import type { UpdraftConfig } from '../config/schema.js';
import { RemoteError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { brokerTarget, redisOptions, type BrokerTarget } from './broker-url.js';

/**
 * Connections to the Redis broker. Start-up is strict: the broker must answer (PING) within a few
 * attempts, and a wrong password ends the process with a RemoteError naming the URL (never the
 * password) instead of a reconnect loop that logs forever. After start, ioredis reconnects for ever
 * so that a Redis restart costs a pause, not the process.
 */
export interface Broker {
  readonly target: BrokerTarget;
  /** Key prefix of every BullMQ key ([celery_broker_transport_options] global_keyprefix). */
  readonly prefix: string;
  /** A new connection (BullMQ workers and QueueEvents block, so each gets its own). */
  connect(): Redis;
}

const START_ATTEMPTS = 5;

export function brokerFromConfig(config: UpdraftConfig): Broker {
  const target = brokerTarget(config);
  const timeoutMs = Math.round(config.celery.operation_timeout * 1000);
  const options = redisOptions(target, timeoutMs);
  return {
    target,
    prefix: config.celery_broker_transport_options.global_keyprefix || 'updraft',
    connect: () => new Redis({ ...options, lazyConnect: true }),
  };
}

function isAuthFailure(message: string): boolean {
  return /WRONGPASS|NOAUTH|invalid password|AUTH .*without any password|NOPERM/i.test(message);
}

/**
 * Connect and PING; retried a few times (a Redis that is still starting), refused at once on an
 * authentication failure. The connection returned is ready for use.
 */
export async function connectChecked(broker: Broker, log?: Logger): Promise<Redis> {
  let lastError = '';
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const redis = broker.connect();
    // The server's own answer (WRONGPASS, ECONNREFUSED) arrives as an 'error' event; the promise
    // below only says that the connection closed.
    let reported = '';
    redis.on('error', (error: Error) => {
      reported ||= error.message;
    });
    try {
      await redis.connect();
      await redis.ping();
      redis.removeAllListeners('error');
      return redis;
    } catch (error) {
      lastError = reported || errorMessage(error);
      redis.disconnect();
      if (isAuthFailure(lastError)) {
        throw new RemoteError(
          `The Redis broker at ${broker.target.display} refused the credentials: ${lastError}. Check [celery] broker_url (or broker_url_cmd).`,
        );
      }
      log?.warn(
        `Redis broker at ${broker.target.display} not reachable (attempt ${attempt} of ${START_ATTEMPTS}): ${lastError}`,
      );
      if (attempt < START_ATTEMPTS) await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    }
  }
  throw new RemoteError(
    `Cannot reach the Redis broker at ${broker.target.display}: ${lastError || 'no answer'}. Is Redis running there, and does [celery] broker_url name it?`,
  );
}

/** Log connection trouble after start once per outage, not once per reconnect attempt. */
export function watchConnection(redis: Redis, broker: Broker, log: Logger, what: string): void {
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    log.warn(`${what}: lost the Redis broker at ${broker.target.display} (${error.message}); reconnecting`);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log.info(`${what}: reconnected to the Redis broker at ${broker.target.display}`);
  });
}
