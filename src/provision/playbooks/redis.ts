import { renderTemplate } from '../engine/templates.js';
import { file, packages, service, type Resource } from '../engine/resources.js';
import type { OsFamily } from '../engine/facts.js';
import type { Playbook } from './types.js';

/** Debian's and Ubuntu's redis-server package lays Redis out the same way. */
const APT_REDIS = {
  pkg: 'redis-server',
  service: 'redis-server',
  conf: '/etc/redis/redis.conf',
  user: 'redis',
  dir: '/var/lib/redis',
  logfile: '/var/log/redis/redis-server.log',
  pidfile: '/run/redis/redis-server.pid',
};

/** Where each family's Redis lives: package, service, config file, owner, paths. */
export const REDIS_LAYOUT: Record<
  OsFamily,
  {
    pkg: string;
    install?: string;
    service: string;
    conf: string;
    user: string;
    dir: string;
    logfile: string;
    pidfile: string;
  }
> = {
  // The source document's route: amazon-linux-extras gives Redis 6 with a service named redis.
  al2: {
    pkg: 'redis',
    install: 'amazon-linux-extras install -y redis6',
    service: 'redis',
    conf: '/etc/redis/redis.conf',
    user: 'redis',
    dir: '/var/lib/redis',
    logfile: '/var/log/redis/redis.log',
    pidfile: '/var/run/redis/redis.pid',
  },
  al2023: {
    pkg: 'redis6',
    service: 'redis6',
    conf: '/etc/redis6/redis6.conf',
    user: 'redis6',
    dir: '/var/lib/redis6',
    logfile: '/var/log/redis6/redis6.log',
    pidfile: '/var/run/redis6/redis6.pid',
  },
  debian12: APT_REDIS,
  ubuntu2204: APT_REDIS,
  ubuntu2404: APT_REDIS,
};

/** Redis from the distribution, bound to loopback, password required, protected mode, on at boot. */
export const redisPlaybook: Playbook = ({ facts, stack, secrets }) => {
  const l = REDIS_LAYOUT[facts.family];
  const bind = ['127.0.0.1', ...(stack.redis.private_address ? [stack.redis.private_address] : [])].join(' ');
  const resources: Resource[] = [
    packages({
      manager: facts.packageManager,
      names: [l.pkg],
      ...(l.install ? { installCommand: l.install } : {}),
    }),
    file({
      path: l.conf,
      content: renderTemplate('redis.conf', {
        bind,
        port: stack.redis.port,
        password: secrets.redis_password,
        dir: l.dir,
        logfile: l.logfile,
        pidfile: l.pidfile,
      }),
      mode: 0o640,
      owner: 'root',
      group: l.user,
      notify: [l.service],
    }),
    service({ name: l.service }),
  ];
  return [{ id: 'redis', title: 'Redis broker', resources }];
};
