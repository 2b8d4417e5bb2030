import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs script shared with scripts/config-table.mjs; no type declarations.
import { renderConfigurationDoc } from '../../scripts/config-doc.mjs';

describe('docs/configuration.md', () => {
  it('is what scripts/config-table.mjs renders from the current schema', async () => {
    const committed = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const rendered = (await renderConfigurationDoc()) as string;
    // On a mismatch: npm run build && node scripts/config-table.mjs
    expect(committed).toBe(rendered);
  });
});
