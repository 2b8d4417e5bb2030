/**
 * Text stored as a JSON object (a run's conf, a connection's extra) read leniently: the object, or
 * null when the text is empty, not JSON, or JSON of another shape. Callers that must reject bad
 * input (the CLI, the API) validate instead.
 */
export function jsonObjectOrNull(text: string | null | undefined): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
