import { execFileSync, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Drive a terminal program as a person would: tmux runs it in a real pseudo-terminal, send-keys
 * types, capture-pane reads the screen. tmux comes from Debian's registry; when it is missing
 * and we are root it is installed here rather than skipping the test.
 */
export function ensureTmux(): void {
  if (spawnSync('tmux', ['-V']).status === 0) return;
  if (process.getuid?.() !== 0) throw new Error('tmux is not installed and we are not root to install it');
  execFileSync('apt-get', ['install', '-y', '-q', 'tmux'], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export class TmuxSession {
  private constructor(readonly name: string) {}

  /** Start `command` (a shell command line) in a detached session of the given size. */
  static start(name: string, command: string, size = { columns: 200, rows: 60 }): TmuxSession {
    ensureTmux();
    execFileSync('tmux', [
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      String(size.columns),
      '-y',
      String(size.rows),
      command,
    ]);
    return new TmuxSession(name);
  }

  /** Keys as tmux names them (Enter, Down, C-c) or, with literal, text to type. */
  send(keys: string, literal = false): void {
    execFileSync('tmux', ['send-keys', '-t', this.name, ...(literal ? ['-l'] : []), keys]);
  }

  type(text: string): void {
    this.send(text, true);
  }

  /** The whole screen plus scrollback, as text. */
  screen(): string {
    return execFileSync('tmux', ['capture-pane', '-p', '-J', '-S', '-500', '-t', this.name], {
      encoding: 'utf8',
    });
  }

  /** Wait until the screen matches; the screen is in the error when it never does. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.screen();
      if (pattern.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`screen never matched ${pattern}:\n${text}`);
      await sleep(200);
    }
  }

  kill(): void {
    spawnSync('tmux', ['kill-session', '-t', this.name]);
  }
}
