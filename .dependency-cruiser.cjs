/**
 * Structure rules for src/, checked by `npm run lint` and by test/structure/architecture.test.ts
 * (so `npm test` fails too). See docs on each rule; the layering is:
 *   core  <-  dag (authoring)  <-  runtime (db, task-runner, worker, executors, scheduler, …)
 */
const RUNTIME =
  '^src/(worker|executors|task-runner|scheduler|db|web|cli|dag-processing|dag-runs|provision|users|connections|variables|pools|security)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycles in src/ that exist at run time. Cycles made only of `import type` edges ' +
        '(the authoring model: a DAG holds operators and task groups that name their DAG) are ' +
        'erased by the compiler and allowed.',
      from: { path: '^src/' },
      to: {
        circular: true,
        dependencyTypesNot: ['type-only'],
        viaOnly: { dependencyTypesNot: ['type-only'] },
      },
    },
    {
      name: 'dag-does-not-import-runtime',
      severity: 'error',
      comment:
        'The authoring package (src/dag/) is what DAG files load; it imports only src/core/ and ' +
        'leaf helpers, never the runtime that runs it.',
      from: { path: '^src/dag/' },
      to: { path: RUNTIME },
    },
    {
      name: 'core-imports-nothing-above-it',
      severity: 'error',
      comment: 'src/core/ holds the shared rules; it imports only itself and Node built-ins.',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'provision-is-loaded-lazily',
      severity: 'error',
      comment:
        'The provisioning toolkit (SSH, AWS SDK) is reached only by dynamic import(), so the ' +
        'scheduler, the webserver and task processes never load it.',
      from: { path: '^src/', pathNot: '^src/provision/' },
      to: { path: '^src/provision/', dynamic: false },
    },
  ],
  options: {
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
