#!/usr/bin/env node
// Writes docs/configuration.md from the configuration schema itself, so the reference cannot drift
// from what the loader accepts. test/config/configuration-doc.test.ts fails when it is stale.
// Usage: npm run build && node scripts/config-table.mjs            (rewrites the file)
//        node scripts/config-table.mjs --stdout                     (prints it)
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigurationDoc } from './config-doc.mjs';

const text = await renderConfigurationDoc();
if (process.argv.includes('--stdout')) process.stdout.write(text);
else {
  const target = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
