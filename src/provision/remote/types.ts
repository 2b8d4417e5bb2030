/**
 * The one interface the provisioning engine talks to a machine through. Adapters: SSH (ssh2) and
 * the local machine. Every command runs privileged (root, or through `sudo -n` for a non-root
 * login such as ec2-user, admin or ubuntu); secrets travel on stdin, never on a command line.
 */
export interface ExecOptions {
  /** Standard input of the command (scripts that carry secrets go here). */
  input?: string;
  /** Resolve with the exit code instead of throwing RemoteCommandError on a non-zero exit. */
  allowFailure?: boolean;
  /** Keep the command's output out of the run log (it prints secrets). */
  quiet?: boolean;
  /** Give up after this long (default 15 minutes). */
  timeoutMs?: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A service on the host as a client on this machine reaches it (see RemoteHost.reach). */
export type Endpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'socket'; path: string };

/** A way in to a service on the host; close() ends the tunnel (a no-op for the local machine). */
export interface Reach {
  endpoint: Endpoint;
  close(): Promise<void>;
}

export interface RemoteHost {
  /** How progress lines name this host (user@address:port, or "local"). */
  readonly label: string;
  /** Run a shell command (sh -c) as root. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /**
   * Copy a local file (mode 0600) to a path writable by the login user (use stagingDir()); the engine moves it
   * into place with `install` so a cut transfer never leaves a half-written file at the target.
   */
  upload(localPath: string, remotePath: string): Promise<void>;
  /** Write bytes to a path writable by the login user (same rule as upload). */
  writeFile(remotePath: string, content: string | Buffer): Promise<void>;
  /** Read a file as root; null when it does not exist. */
  readFile(remotePath: string): Promise<string | null>;
  /** A private folder (0700, owned by the login user) for uploads; created once per connection. */
  stagingDir(): Promise<string>;
  /**
   * Reach a service listening on the host's loopback port or Unix socket from this machine, so
   * health checks talk to Redis and MySQL with their own client libraries (over an SSH tunnel for
   * an SSH host) instead of parsing command-line output.
   */
  reach(target: { port: number } | { socketPath: string }): Promise<Reach>;
  close(): Promise<void>;
}

/** Where command lines and their output go (the per-run log file); secrets are masked. */
export interface CommandLog {
  command(host: string, command: string): void;
  output(chunk: string): void;
  note(line: string): void;
}

export const silentLog: CommandLog = { command() {}, output() {}, note() {} };
