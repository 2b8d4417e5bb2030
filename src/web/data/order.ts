/** A field to sort a list by, as the REST API's order_by names it. */
export interface RowOrder {
  field: string;
  desc: boolean;
}

/**
 * Sorts rows read whole into memory (variables, connections, pools, users) by one field: numbers
 * by value, everything else as text, empty values last. Without an order, rows keep theirs.
 */
export function sortRows<T extends object>(rows: T[], order: RowOrder | undefined): T[] {
  if (!order) return rows;
  const sign = order.desc ? -1 : 1;
  const value = (row: T) => (row as Record<string, unknown>)[order.field];
  return [...rows].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    if (typeof x === 'number' && typeof y === 'number') return sign * (x - y);
    return sign * (String(x) < String(y) ? -1 : 1);
  });
}
