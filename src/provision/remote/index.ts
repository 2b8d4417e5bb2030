export type { RemoteHost, ExecOptions, ExecResult, CommandLog, Endpoint, Reach } from './types.js';
export { silentLog } from './types.js';
export { connectSsh, type SshTarget } from './ssh.js';
export { localHost } from './local.js';
export { sq } from './shell.js';
export { fingerprint } from './known-hosts.js';
