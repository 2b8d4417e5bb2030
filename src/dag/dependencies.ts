import { ValidationError } from '../errors.js';
import { leavesOf, linkTasks, rootsOf, type DependencyNode, type DependencyTarget } from './base-operator.js';

/**
 * `chain(a, b, [c, d], e)`: a → b → c,d → e. Two adjacent lists must have the same length and are
 * linked pairwise (Airflow's chain semantics).
 */
export function chain(...items: DependencyTarget[]): void {
  for (let i = 0; i + 1 < items.length; i++) {
    const up = items[i]!;
    const down = items[i + 1]!;
    if (Array.isArray(up) && Array.isArray(down)) {
      if (up.length !== down.length) {
        throw new ValidationError(
          `chain(): adjacent lists must have the same length, got ${up.length} and ${down.length}`,
        );
      }
      up.forEach((u, k) => link(u as DependencyTarget, down[k] as DependencyTarget));
    } else {
      link(up, down);
    }
  }
}

function link(up: DependencyTarget, down: DependencyTarget): void {
  for (const from of leavesOf(up)) for (const to of rootsOf(down)) linkTasks(from, to);
}

/** Every task of `from` → every task of `to` (Airflow's cross_downstream). */
export function crossDownstream(from: readonly DependencyNode[], to: readonly DependencyNode[]): void {
  for (const f of from) for (const t of to) link(f, t);
}
