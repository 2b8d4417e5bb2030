import { readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import { Client, type ConnectConfig } from 'ssh2';
import { RemoteCommandError, RemoteError, HostKeyMismatchError } from '../../errors.js';
import { hostId, hostKeyChanged, judgeHostKey, readKnownHosts, rememberHostKey } from './known-hosts.js';
import { catIfExists, privileged, sq } from './shell.js';
import {
  silentLog,
  type CommandLog,
  type ExecOptions,
  type ExecResult,
  type Reach,
  type RemoteHost,
} from './types.js';

export interface SshTarget {
  address: string;
  port: number;
  user: string;
  /** Private key file. */
  keyFile: string;
  knownHostsFile: string;
  /** Keep trying to connect this long while a new instance boots (default 180 s). */
  connectDeadlineMs?: number;
  log?: CommandLog;
}

const RETRY_DELAY_MS = 2000;

/** Connect (retrying while the host boots) and return a RemoteHost over one SSH connection. */
export async function connectSsh(target: SshTarget): Promise<RemoteHost> {
  const privateKey = await readFile(target.keyFile).catch((e: Error) => {
    throw new RemoteError(`--key ${target.keyFile}: cannot read the private key (${e.message})`);
  });
  const id = hostId(target.address, target.port);
  const known = await readKnownHosts(target.knownHostsFile);
  const deadline = Date.now() + (target.connectDeadlineMs ?? 180_000);
  let lastError: Error | undefined;
  for (let attempt = 1; Date.now() < deadline || attempt === 1; attempt++) {
    let newKey: string | undefined;
    let mismatch: HostKeyMismatchError | undefined;
    const config: ConnectConfig = {
      host: target.address,
      port: target.port,
      username: target.user,
      privateKey,
      readyTimeout: 20_000,
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        const verdict = judgeHostKey(known, id, key);
        if (verdict.kind === 'changed') {
          mismatch = hostKeyChanged(id, verdict.expected, verdict.got, target.knownHostsFile);
          return false;
        }
        if (verdict.kind === 'new') newKey = verdict.fingerprint;
        return true;
      },
    };
    try {
      const client = await openClient(config);
      if (newKey) {
        await rememberHostKey(target.knownHostsFile, id, newKey);
        target.log?.note(`trusted new host key of ${id}: ${newKey} (recorded in ${target.knownHostsFile})`);
      }
      return new SshHost(client, target, target.log ?? silentLog);
    } catch (e) {
      if (mismatch) throw mismatch;
      lastError = e as Error;
      target.log?.note(`connect attempt ${attempt} to ${id} failed: ${lastError.message}`);
      await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
    }
  }
  throw new RemoteError(`Cannot connect to ${target.user}@${id}: ${lastError?.message ?? 'timed out'}`);
}

function openClient(config: ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client));
    client.once('error', (e) => {
      client.end();
      reject(e);
    });
    client.connect(config);
  });
}

class ChannelRefused extends RemoteError {}

class SshHost implements RemoteHost {
  readonly label: string;
  private readonly isRoot: boolean;
  private staging: Promise<string> | undefined;

  constructor(
    private readonly client: Client,
    target: SshTarget,
    private readonly log: CommandLog,
  ) {
    this.label = `${target.user}@${target.address}${target.port === 22 ? '' : `:${target.port}`}`;
    this.isRoot = target.user === 'root';
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return this.run(privileged(command, this.isRoot), command, options);
  }

  private async run(wire: string, shown: string, options: ExecOptions): Promise<ExecResult> {
    this.log.command(this.label, shown);
    // sshd caps the sessions of one connection (MaxSessions, 10 by default) and frees a closed
    // one a moment after the client sees it close: a refused channel is retried, not fatal.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.runOnce(wire, shown, options);
      } catch (e) {
        if (!(e instanceof ChannelRefused) || attempt >= 20) throw e;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  private runOnce(wire: string, shown: string, options: ExecOptions): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(wire, (err, stream) => {
        if (err) {
          return reject(
            /Channel open failure/i.test(err.message)
              ? new ChannelRefused(`${this.label}: cannot start a command: ${err.message}`)
              : new RemoteError(`${this.label}: cannot start a command: ${err.message}`),
          );
        }
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(
          () => {
            stream.close();
            reject(new RemoteError(`${this.label}: command timed out: ${shown}`));
          },
          options.timeoutMs ?? 15 * 60_000,
        );
        stream.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (!options.quiet) this.log.output(d.toString());
        });
        stream.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (!options.quiet) this.log.output(d.toString());
        });
        let code: number | null = null;
        stream.on('exit', (c: number | null) => {
          code = c;
        });
        stream.on('close', () => {
          clearTimeout(timer);
          const exitCode = code ?? 255;
          if (exitCode !== 0 && !options.allowFailure) {
            reject(
              new RemoteCommandError(
                `${this.label}: \`${shown}\` exited ${exitCode}: ${stderr.trim().slice(-2000)}`,
                exitCode,
                stderr,
              ),
            );
          } else resolve({ code: exitCode, stdout, stderr });
        });
        stream.end(options.input ?? '');
      });
    });
  }

  /**
   * Stream bytes into a file through `cat` on an exec channel, as the login user (the staging
   * folder is its own). Measured here 3x faster than SFTP's fastPut for the 30-40 MB artifacts.
   */
  private put(source: Readable, remotePath: string): Promise<void> {
    const wire = `umask 077 && cat > ${sq(remotePath)}`;
    return new Promise((resolve, reject) => {
      this.client.exec(wire, (err, stream) => {
        if (err) return reject(new RemoteError(`${this.label}: cannot start an upload: ${err.message}`));
        let stderr = '';
        let code: number | null = null;
        stream.resume();
        stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        stream.on('exit', (c: number | null) => (code = c));
        stream.on('close', () =>
          code === 0
            ? resolve()
            : reject(
                new RemoteError(
                  `${this.label}: upload to ${remotePath} failed: ${stderr.trim() || `exit ${code}`}`,
                ),
              ),
        );
        source.on('error', (e) => {
          stream.close();
          reject(new RemoteError(`${this.label}: reading the upload failed: ${e.message}`));
        });
        source.pipe(stream);
      });
    });
  }

  async upload(localPath: string, remotePath: string): Promise<void> {
    this.log.command(this.label, `upload ${localPath} -> ${remotePath}`);
    await this.put(createReadStream(localPath), remotePath);
  }

  async writeFile(remotePath: string, content: string | Buffer): Promise<void> {
    this.log.command(this.label, `write ${remotePath}`);
    await this.put(Readable.from([Buffer.from(content)]), remotePath);
  }

  async readFile(remotePath: string): Promise<string | null> {
    const r = await this.exec(catIfExists(remotePath), { allowFailure: true, quiet: true });
    if (r.code === 3) return null;
    if (r.code !== 0)
      throw new RemoteCommandError(
        `${this.label}: cannot read ${remotePath}: ${r.stderr.trim()}`,
        r.code,
        r.stderr,
      );
    return r.stdout;
  }

  stagingDir(): Promise<string> {
    // Created by the login user (not root) so uploads can write into it; 0700 keeps them private.
    this.staging ??= this.run(
      'mkdir -p -m 700 "$HOME/.updraft-staging" && cd "$HOME/.updraft-staging" && pwd',
      'mkdir ~/.updraft-staging',
      {},
    ).then((r) => r.stdout.trim());
    return this.staging;
  }

  /**
   * A loopback listener on this machine whose every connection becomes one SSH channel to the
   * host's port (direct-tcpip) or Unix socket (OpenSSH's direct-streamlocal), over the one
   * connection the host already has.
   */
  async reach(target: { port: number } | { socketPath: string }): Promise<Reach> {
    const open = (cb: (err: Error | undefined, stream: Duplex) => void): void => {
      if ('port' in target) this.client.forwardOut('127.0.0.1', 0, '127.0.0.1', target.port, cb);
      else this.client.openssh_forwardOutStreamLocal(target.socketPath, cb);
    };
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      // A reset by the client, or the channel refused below, must not become an uncaught error.
      socket.on('error', () => {});
      open((err, stream) => {
        // Nothing listens on the host's side (the service is down): the client sees its
        // connection closed, as it would connecting there directly.
        if (err) return socket.destroy();
        socket.pipe(stream).pipe(socket);
        stream.on('error', () => socket.destroy());
        stream.once('close', () => socket.destroy());
        socket.once('close', () => stream.destroy());
      });
    });
    await new Promise<void>((resolve, reject) =>
      server.once('error', reject).listen(0, '127.0.0.1', () => resolve()),
    );
    const address = server.address();
    if (address === null || typeof address === 'string')
      throw new RemoteError(`${this.label}: cannot open a local tunnel listener`);
    return {
      endpoint: { kind: 'tcp', host: '127.0.0.1', port: address.port },
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    };
  }

  async close(): Promise<void> {
    this.client.end();
  }
}
