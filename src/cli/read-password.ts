import { createInterface } from 'node:readline';
import { text } from 'node:stream/consumers';
import { ValidationError } from '../errors.js';

/**
 * Ask for a password the way `airflow users create` does when -p is not given: "Password:" then
 * "Repeat for confirmation:". On a terminal the typing is not echoed; from a pipe the first line is
 * the password and an optional second line the confirmation.
 */
export async function readPassword(
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WriteStream = process.stderr,
): Promise<string> {
  let password: string;
  let confirmation: string | undefined;
  if (input.isTTY) {
    password = await askHidden(input, output, 'Password: ');
    confirmation = await askHidden(input, output, 'Repeat for confirmation: ');
  } else {
    const lines = (await text(input)).split(/\r?\n/);
    password = lines[0] ?? '';
    confirmation = lines[1] || undefined;
  }
  if (confirmation !== undefined && confirmation !== password) {
    throw new ValidationError('Passwords did not match.');
  }
  return password;
}

function askHidden(input: NodeJS.ReadStream, output: NodeJS.WriteStream, prompt: string): Promise<string> {
  return new Promise((resolve) => {
    output.write(prompt);
    const rl = createInterface({ input, output, terminal: true });
    // Swallow readline's echo of what is typed; only the prompt above is shown.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
    rl.question('', (answer) => {
      rl.close();
      output.write('\n');
      resolve(answer);
    });
  });
}
