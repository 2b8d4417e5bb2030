import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { CommandLog } from '../remote/types.js';

/** The per-run log file: every command and its output, with secret values masked. 0600. */
export class RunLog implements CommandLog {
  private readonly stream: WriteStream;
  readonly path: string;

  constructor(
    dir: string,
    private readonly mask: (text: string) => string,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.path = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
    this.stream = createWriteStream(this.path, { mode: 0o600, flags: 'a' });
  }

  command(host: string, command: string): void {
    this.stream.write(this.mask(`\n[${new Date().toISOString()}] ${host}$ ${command}\n`));
  }

  output(chunk: string): void {
    this.stream.write(this.mask(chunk));
  }

  note(line: string): void {
    this.stream.write(this.mask(`[${new Date().toISOString()}] ${line}\n`));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

/** A masker for a set of secret values (longest first, so no secret is half-replaced by another). */
export function masker(secrets: string[]): (text: string) => string {
  const values = [...new Set(secrets.filter((s) => s.length >= 6))].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const v of values) out = out.split(v).join('********');
    return out;
  };
}
