import type { AppContext } from '../../context.js';
import { formatValue } from '../../config/index.js';

/** Configuration for the Admin page and /api/v1/config; sensitive values are never shown. */
export function configSections(
  app: AppContext,
): { name: string; options: { key: string; value: string; source: string }[] }[] {
  const sections = new Map<string, { key: string; value: string; source: string }[]>();
  for (const r of app.config.resolved) {
    const list = sections.get(r.section) ?? [];
    list.push({
      key: r.key,
      value: r.sensitive && r.value !== '' ? '< hidden >' : formatValue(r.value),
      source: r.source,
    });
    sections.set(r.section, list);
  }
  return [...sections].map(([name, options]) => ({ name, options }));
}
