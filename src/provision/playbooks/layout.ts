/** Fixed paths on a provisioned host. */
export const UPDRAFT_ROOT = '/opt/updraft';
export const NODE_LINK = `${UPDRAFT_ROOT}/node`;
export const NODE_BIN = `${NODE_LINK}/bin`;
export const RELEASES = `${UPDRAFT_ROOT}/releases`;
export const CURRENT = `${UPDRAFT_ROOT}/current`;
export const ENV_FILE = '/etc/updraft/updraft.env';
export const CLI_WRAPPER = '/usr/local/bin/updraft';

export const COMPONENTS = {
  scheduler: { unit: 'updraft-scheduler', command: 'scheduler' },
  webserver: { unit: 'updraft-webserver', command: 'webserver' },
  worker: { unit: 'updraft-worker', command: 'celery worker' },
} as const;
export type Component = keyof typeof COMPONENTS;
