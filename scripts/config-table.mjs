#!/usr/bin/env node
// Prints the configuration keys as a Markdown table, from the schema itself (README "Configuration").
// Usage: npm run build && node scripts/config-table.mjs
import { configSchema } from '../dist/config/schema.js';

const show = (spec) => {
  const d =
    typeof spec.default === 'function' ? spec.default({ AIRFLOW_HOME: '{AIRFLOW_HOME}' }) : spec.default;
  if (spec.sensitive && (spec.doc.includes('generated') || d === '')) return d === '' ? '' : '(generated)';
  if (typeof d === 'boolean') return d ? 'True' : 'False';
  return Array.isArray(d) ? d.join(',') : String(d);
};
console.log('| section | key | default | meaning |');
console.log('| --- | --- | --- | --- |');
for (const [section, keys] of Object.entries(configSchema)) {
  for (const [key, spec] of Object.entries(keys)) {
    const def = show(spec);
    console.log(
      `| ${section} | ${key} | ${def === '' ? '' : '`' + def.replaceAll('|', '\\|') + '`'} | ${spec.doc.replaceAll('|', '\\|')} |`,
    );
  }
}
