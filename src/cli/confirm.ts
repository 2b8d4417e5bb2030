import { createInterface } from 'node:readline/promises';

/** Ask on the terminal; anything but y/yes is no (and no terminal answer at all is no). */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await Promise.race([
      rl.question(question),
      new Promise<string>((r) => process.stdin.once('end', () => r(''))),
    ]);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
