// Renders docs/configuration.md from dist/config/schema.js (shared by scripts/config-table.mjs and
// the test that keeps the committed file current).
const INTRO = `# Configuration reference

Updraft reads \`$AIRFLOW_HOME/airflow.cfg\` (or the file named by \`$AIRFLOW_CONFIG\`), in the
format Airflow uses. Configuration comes in layers and is validated once, when loaded. From
highest precedence:

1. \`AIRFLOW__{SECTION}__{KEY}\` environment variables;
2. \`AIRFLOW__{SECTION}__{KEY}_CMD\` (a command whose output is the value);
3. \`$AIRFLOW_HOME/airflow.cfg\`;
4. \`key_cmd\` in the file (sensitive keys only);
5. the built-in default.

The first run writes a commented \`airflow.cfg\` with freshly generated \`fernet_key\` and
\`secret_key\`, mode 0600. \`updraft config list\` shows every resolved value with its source, and
\`updraft config get-value SECTION KEY\` one of them.

Malformed values fail with a message naming the section, the key and the accepted form. Unknown
keys get a warning, so Airflow configs can be copied as they are. Old spellings still work, with
a warning: \`[core] sql_alchemy_conn\` and \`[api] auth_backend\`, as in the source document's
\`auth_backend = airflow.api.auth.backend.basic_auth\`.

This page is generated from \`src/config/schema.ts\` by \`node scripts/config-table.mjs\` (after
\`npm run build\`); a test fails when it is out of date.

`;

function shownDefault(spec) {
  const d =
    typeof spec.default === 'function' ? spec.default({ AIRFLOW_HOME: '{AIRFLOW_HOME}' }) : spec.default;
  if (spec.sensitive && (spec.doc.includes('generated') || d === '')) return d === '' ? '' : '(generated)';
  if (typeof d === 'boolean') return d ? 'True' : 'False';
  return Array.isArray(d) ? d.join(',') : String(d);
}

const cell = (text) => text.replaceAll('|', '\\|');

export async function renderConfigurationDoc(schemaModule = '../dist/config/schema.js') {
  const { configSchema } = await import(new URL(schemaModule, import.meta.url).href);
  const lines = [INTRO.trimEnd(), ''];
  for (const [section, keys] of Object.entries(configSchema)) {
    lines.push(`## [${section}]`, '', '| key | default | meaning |', '| --- | --- | --- |');
    for (const [key, spec] of Object.entries(keys)) {
      const def = shownDefault(spec);
      lines.push(`| ${key} | ${def === '' ? '' : '`' + cell(def) + '`'} | ${cell(spec.doc)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
