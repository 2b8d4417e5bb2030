import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../../errors.js';

/** templates/ at the package root (src/provision/engine and dist/provision/engine are both three levels down). */
export const TEMPLATES_DIR = fileURLToPath(new URL('../../../templates/', import.meta.url));

/** Render templates/NAME: every {{ key }} must have a value, every value must be used. */
export function renderTemplate(name: string, values: Record<string, string | number>): string {
  const text = readFileSync(TEMPLATES_DIR + name, 'utf8');
  const used = new Set<string>();
  const out = text.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, key: string) => {
    const v = values[key];
    if (v === undefined) throw new ValidationError(`template ${name}: no value for {{ ${key} }}`);
    used.add(key);
    return String(v);
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length) throw new ValidationError(`template ${name}: values not used: ${unused.join(', ')}`);
  return out;
}
