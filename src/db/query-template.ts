import type { CompiledQuery, Compilable, Kysely, RawBuilder } from 'kysely';
import type { Database } from './tables.js';

/**
 * A statement of fixed shape, built and compiled by Kysely once per dialect and then re-bound with
 * new values on each use.
 *
 * Why: building a query tree and compiling it costs Kysely tens of microseconds per statement.
 * The task runner and the scheduler send the same few statements for every try, with only the
 * values changing. Profiles of a 1,000-task fan-out showed Kysely's building and compiling at about
 * a fifth of a task process's CPU.
 *
 * How: `build` receives a stand-in for each named value. Kysely takes the stand-ins as ordinary
 * parameter values, so the compiled statement lists them among its parameters in the order of
 * their placeholders. `bind` swaps each stand-in for the caller's value. Everything else `build`
 * writes (literals, constants, lists) stays as compiled. The shape must not depend on the values:
 * an `undefined` value (which Kysely would drop from a SET or VALUES) is refused, and a stand-in
 * that did not end up as a parameter (inlined with `sql.lit`, say) fails the first compile.
 * `compileDirect` builds the same statement from the values themselves; the tests check that both
 * give the same SQL and parameters.
 */
export interface QueryTemplate<K extends string> {
  /** The statement with these values, from the compiled-once form. */
  bind(db: Kysely<Database>, values: Readonly<Record<K, unknown>>): CompiledQuery;
  /** The statement built and compiled from the values themselves (for tests, and plugin-carrying handles). */
  compileDirect(db: Kysely<Database>, values: Readonly<Record<K, unknown>>): CompiledQuery;
}

/** A query builder, or an `sql` template (which compiles against a database handle). */
export type TemplateStatement = Compilable | RawBuilder<unknown>;

function compileStatement(db: Kysely<Database>, statement: TemplateStatement): CompiledQuery {
  // A query builder's compile() takes no argument; a raw builder's needs the handle.
  return (statement as { compile(db: Kysely<Database>): CompiledQuery }).compile(db);
}

/** A value's stand-in: an object Kysely cannot mistake for an expression, a list or a callback. */
class StandIn {
  constructor(readonly name: string) {}
}

interface CompiledShape {
  compiled: CompiledQuery;
  /** Per parameter: the name of the value that goes there, or null to keep the compiled constant. */
  slots: (string | null)[];
}

/**
 * `names` lists every value `build` reads from its second argument. Inside `build` the values are
 * typed `never`, which fits wherever Kysely expects a value.
 */
export function queryTemplate<const K extends string>(
  names: readonly K[],
  build: (db: Kysely<Database>, values: Readonly<Record<K, never>>) => TemplateStatement,
): QueryTemplate<K> {
  // Compiled SQL depends on the dialect only; a transaction's handle shares its database's adapter.
  const shapes = new WeakMap<object, CompiledShape>();

  const shapeFor = (db: Kysely<Database>): CompiledShape => {
    const adapter = db.getExecutor().adapter;
    const known = shapes.get(adapter);
    if (known) return known;
    const standIns = Object.fromEntries(names.map((name) => [name, new StandIn(name)])) as unknown as Record<
      K,
      never
    >;
    const compiled = compileStatement(db, build(db, standIns));
    const slots = compiled.parameters.map((p) => (p instanceof StandIn ? p.name : null));
    const missing = names.filter((name) => !slots.includes(name));
    if (missing.length > 0)
      throw new Error(`Query template: ${missing.join(', ')} did not become parameters of: ${compiled.sql}`);
    const shape = { compiled, slots };
    shapes.set(adapter, shape);
    return shape;
  };

  const checked = (values: Readonly<Record<K, unknown>>) => {
    for (const name of names)
      if (values[name] === undefined)
        throw new Error(`Query template: no value for ${name} (use null for SQL NULL)`);
    return values;
  };

  return {
    bind(db, values) {
      checked(values);
      // A plugin rewrites the query tree before compiling; the compiled-once form would skip it.
      if (db.getExecutor().plugins.length > 0) return this.compileDirect(db, values);
      const { compiled, slots } = shapeFor(db);
      return {
        ...compiled,
        parameters: slots.map((slot, i) => (slot === null ? compiled.parameters[i] : values[slot as K])),
      };
    },
    compileDirect(db, values) {
      return compileStatement(db, build(db, checked(values) as Readonly<Record<K, never>>));
    },
  };
}

/**
 * One statement in several shapes (the columns an update sets, the length of an IN list …): each
 * shape's template is made on first use and kept. `key` names the shape.
 */
export function templatesByShape<S, K extends string>(
  key: (shape: S) => string,
  make: (shape: S) => QueryTemplate<K>,
): (shape: S) => QueryTemplate<K> {
  const made = new Map<string, QueryTemplate<K>>();
  return (shape) => {
    const name = key(shape);
    let template = made.get(name);
    if (!template) made.set(name, (template = make(shape)));
    return template;
  };
}
