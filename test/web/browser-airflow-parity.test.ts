import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext, type AppContext } from '../../src/context.js';
import { migrateToLatest } from '../../src/db/index.js';
import { processDagFolderOnce } from '../../src/dag-processing/index.js';
import { setDagPaused, triggerDagRun } from '../../src/dag-runs/index.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { createUser } from '../../src/users/index.js';
import { startWebserver, type RunningWebserver } from '../../src/web/index.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

/**
 * What an Airflow user switching over looks for, in Debian's Chromium against a real webserver
 * and scheduler: mapped task instances, the trigger form's widgets and its errors, error pages,
 * the grid, the graph of a wide DAG with nested groups, the DAG list, the Code tab, the API
 * reference. Refreshes the screenshots in docs/. The parse workers run from dist/: `npm run build`.
 */
const CHROMIUM = '/usr/bin/chromium';
const DOCS = resolve(import.meta.dirname, '../../docs');

/** A DAG with one param per trigger-form widget. */
const PARAMS_DAG = `
import { DAG, EmptyOperator, Param } from 'updraft';
export const dag = new DAG({
  dagId: 'params_widgets',
  schedule: null,
  tags: ['ui'],
  params: {
    environment: new Param('staging', { enum: ['dev', 'staging', 'prod'], description: 'Where to deploy' }),
    dry_run: new Param(true, { type: 'boolean', description: 'Only print what would change' }),
    batch_size: new Param(100, { type: 'integer', minimum: 1, maximum: 1000 }),
    ratio: new Param(0.5, { type: 'number' }),
    options: new Param({ retries: 2 }, { type: 'object', required: ['retries'] }),
    regions: new Param(['eu-west-1'], { type: 'array', items: { type: 'string' } }),
    ticket: new Param('OPS-1', { type: 'string', pattern: '^[A-Z]+-[0-9]+$', description: 'Change ticket' }),
  },
}).build(() => {
  new EmptyOperator({ taskId: 'deploy' });
});
`;

/** Nested task groups, fanned out wider than the screen. */
const WIDE_DAG = `
import { DAG, EmptyOperator, TaskGroup } from 'updraft';
export const dag = new DAG({ dagId: 'wide_nested_groups', schedule: null, tags: ['ui'] }).build(() => {
  const start = new EmptyOperator({ taskId: 'start_of_the_whole_pipeline' });
  const end = new EmptyOperator({ taskId: 'publish_everything_to_the_warehouse' });
  for (const region of ['europe', 'americas', 'asia_pacific']) {
    const group = new TaskGroup({ groupId: region }, () => {
      const extract = new EmptyOperator({ taskId: 'extract_customer_orders_from_source' });
      const inner = new TaskGroup({ groupId: 'transform' }, () => {
        const a = new EmptyOperator({ taskId: 'clean_and_deduplicate_rows' });
        const b = new EmptyOperator({ taskId: 'join_with_reference_tables' });
        const c = new EmptyOperator({ taskId: 'aggregate_daily_totals' });
        a.then(b).then(c);
      });
      const load = new EmptyOperator({ taskId: 'load_into_regional_mart' });
      extract.then(inner).then(load);
    });
    start.then(group).then(end);
  }
});
`;

let ctx: AppContext;
let database: TestDatabase;
let home: string;
let web: RunningWebserver;
let browser: Browser;
let scheduler: { instance: Scheduler; done: Promise<unknown> } | null = null;
let schedulerError: unknown = null;
let mappedRunId = '';

async function signIn(page: Page, username: string): Promise<void> {
  await page.goto(`${web.url}/login`);
  await page.fill('#username', username);
  await page.fill('#password', `${username}-pass`);
  await Promise.all([page.waitForURL(/\/home/), page.click('button[type=submit]')]);
}

async function adminPage(width = 1440, height = 900): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } });
  await signIn(page, 'admin');
  return page;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  home = await mkdtemp(join(tmpdir(), 'updraft-parity-'));
  database = await createTestDatabase('sqlite');
  const dags = join(home, 'dags');
  await mkdir(dags, { recursive: true });
  await writeFile(join(dags, 'params_widgets.ts'), PARAMS_DAG);
  await writeFile(join(dags, 'wide_nested_groups.ts'), WIDE_DAG);
  ctx = createContext({
    env: {
      ...process.env,
      AIRFLOW_HOME: home,
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: database.url,
      AIRFLOW__CORE__LOAD_EXAMPLES: 'True',
      AIRFLOW__CORE__DAGS_FOLDER: dags,
      AIRFLOW__LOGGING__LOGGING_LEVEL: 'ERROR',
      AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC: '1',
    },
    onWarning: () => {},
  });
  const store = await ctx.db();
  await migrateToLatest(store);
  for (const [username, role] of [
    ['admin', 'Admin'],
    ['viewer', 'Viewer'],
  ] as const) {
    await createUser(store, {
      username,
      email: `${username}@example.com`,
      firstName: username,
      lastName: 'T',
      password: `${username}-pass`,
      roles: [role],
    });
  }
  await processDagFolderOnce(ctx);
  const errors = await store.kysely.selectFrom('import_error').selectAll().execute();
  if (errors.length) throw new Error(`DAG import errors: ${JSON.stringify(errors)}`);
  // The mapped example runs once under a real scheduler: add_one expands to indexes 0-2.
  await setDagPaused(store, 'example_dynamic_task_mapping', false);
  mappedRunId = (await triggerDagRun(store, 'example_dynamic_task_mapping')).run_id;
  await setDagPaused(store, 'wide_nested_groups', false);
  await triggerDagRun(store, 'wide_nested_groups');
  const instance = new Scheduler(ctx, { runDagProcessor: false });
  scheduler = {
    instance,
    done: instance.run().catch((error: unknown) => {
      schedulerError = error;
    }),
  };
  web = await startWebserver(ctx, { host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  await mkdir(DOCS, { recursive: true });
}, 180_000);

afterAll(async () => {
  if (scheduler) {
    scheduler.instance.stop();
    await scheduler.done;
  }
  await browser?.close();
  await web?.close();
  await ctx?.close();
  await database?.drop();
  if (home) await rm(home, { recursive: true, force: true });
});

/** Wait until the mapped example's run has finished (the scheduler runs it in the background). */
async function mappedRunDone(): Promise<void> {
  const store = await ctx.db();
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (schedulerError) throw schedulerError;
    const run = await store.kysely
      .selectFrom('dag_run')
      .select('state')
      .where('dag_id', '=', 'example_dynamic_task_mapping')
      .where('run_id', '=', mappedRunId)
      .executeTakeFirstOrThrow();
    if (run.state === 'success' || run.state === 'failed') return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('The mapped example run did not finish within 120 s.');
}

describe('what an Airflow user switching over looks for', () => {
  it('mapped tasks: the grid lists the expanded instances, each opens with its own try, log and XCom', async () => {
    await mappedRunDone();
    const page = await adminPage();
    await page.goto(`${web.url}/dags/example_dynamic_task_mapping/grid`);
    const cell = `span.cell[data-task-id="add_one"][data-run-id="${mappedRunId}"]`;
    await page.waitForSelector(cell);
    await Promise.all([page.waitForURL(/task_id=add_one/), page.locator(cell).click()]);
    const rows = page.locator('#mapped-instances tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    for (let i = 0; i < 3; i++) {
      const row = page.locator(`#mapped-instances tr[data-map-index="${i}"]`);
      expect(await row.locator('td').nth(1).textContent()).toContain('success');
      expect((await row.locator('td').nth(5).textContent())?.trim()).toMatch(/^\d+s$/);
    }
    await page.screenshot({ path: join(DOCS, 'mapped-instances.png'), fullPage: true });

    // Open index 1: its state, try 1, its log, and only its own XCom (x=2 returns 3).
    await Promise.all([page.waitForURL(/map_index=1/), page.click('#mapped-instances a:text("[1]")')]);
    const details = (await page.locator('[data-live="ti-details"]').textContent())!.replace(/\s+/g, ' ');
    expect(details).toContain('success');
    expect(details).toMatch(/Map index ?1 /);
    expect(details).toContain('Try number 1 of');
    const xcomValues = await page.locator('#ti-panel table.list td code').allTextContents();
    expect(xcomValues).toEqual(['3']);
    await expect.poll(() => page.locator('pre.log').textContent(), { timeout: 15_000 }).toMatch(/add_one/);

    // Browse → Task Instances links each index to its own instance.
    await page.goto(`${web.url}/taskinstance/list?dag_id=example_dynamic_task_mapping`);
    await Promise.all([page.waitForURL(/map_index=0/), page.click('a:text("add_one [0]")')]);
    expect((await page.locator('[data-live="ti-details"]').textContent())!.replace(/\s+/g, ' ')).toMatch(
      /Map index ?0 /,
    );
    expect(await page.locator('#ti-panel table.list td code').allTextContents()).toEqual(['2']);
    await page.close();
  }, 180_000);

  it('trigger form: one widget per param type, one submit, a bad value comes back beside its field', async () => {
    const page = await adminPage();
    await page.goto(`${web.url}/dags/params_widgets/trigger`);
    const widgetOf = (name: string) => page.locator(`dd[data-param="${name}"]`).getAttribute('data-widget');
    expect(await widgetOf('environment')).toBe('enum');
    expect(await widgetOf('dry_run')).toBe('boolean');
    expect(await widgetOf('batch_size')).toBe('integer');
    expect(await widgetOf('ratio')).toBe('number');
    expect(await widgetOf('options')).toBe('json');
    expect(await widgetOf('regions')).toBe('json');
    expect(await widgetOf('ticket')).toBe('string');
    expect(await page.locator('select#param-environment').inputValue()).toBe('"staging"');
    expect(await page.locator('input#param-dry_run[type=checkbox]').isChecked()).toBe(true);
    expect(await page.locator('input#param-batch_size[type=number]').getAttribute('max')).toBe('1000');
    expect(await page.locator('dd[data-param="environment"]').textContent()).toContain('Where to deploy');
    // One Trigger button on the page: the form's.
    expect(await page.locator('button:has-text("Trigger")').count()).toBe(1);

    // A bad ticket and broken JSON: the form comes back with both messages and the inputs kept.
    await page.selectOption('select#param-environment', '"prod"');
    await page.uncheck('#param-dry_run');
    await page.fill('#param-ticket', 'not a ticket');
    await page.fill('#param-options', '{"retries": 2,');
    await page.screenshot({ path: join(DOCS, 'trigger.png'), fullPage: true });
    const [bad] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.click('#trigger-form button[type=submit]'),
    ]);
    expect(bad.status()).toBe(400);
    await page.waitForSelector('dd[data-param="ticket"] .field-error');
    expect(await page.locator('dd[data-param="ticket"] .field-error').textContent()).toContain('pattern');
    expect(await page.locator('dd[data-param="options"] .field-error').textContent()).toContain('JSON');
    expect(await page.locator('#param-ticket').inputValue()).toBe('not a ticket');
    expect(await page.locator('select#param-environment').inputValue()).toBe('"prod"');
    expect(await page.locator('#param-dry_run').isChecked()).toBe(false);
    expect(await page.locator('header.top nav').count()).toBe(1);
    await page.screenshot({ path: join(DOCS, 'trigger-error.png'), fullPage: true });

    // Fixed: the run gets exactly the typed values.
    await page.fill('#param-ticket', 'OPS-42');
    await page.fill('#param-options', '{"retries": 5}');
    await page.fill('#param-batch_size', '250');
    await Promise.all([page.waitForURL(/\/grid\?run_id=/), page.click('#trigger-form button[type=submit]')]);
    const store = await ctx.db();
    const run = await store.kysely
      .selectFrom('dag_run')
      .select('conf')
      .where('dag_id', '=', 'params_widgets')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(run.conf!)).toEqual({
      environment: 'prod',
      dry_run: false,
      batch_size: 250,
      ratio: 0.5,
      options: { retries: 5 },
      regions: ['eu-west-1'],
      ticket: 'OPS-42',
    });
    await page.close();
  }, 60_000);

  it('error pages keep the header and navigation and say what to do next', async () => {
    const page = await adminPage();
    const missing = await page.goto(`${web.url}/dags/no_such_dag/grid`);
    expect(missing?.status()).toBe(404);
    expect(await page.locator('header.top nav a[href="/home"]').count()).toBe(1);
    expect(await page.locator('.error-page h1').textContent()).toContain('404');
    expect(await page.locator('.error-page').textContent()).toContain('What to do next');
    expect(await page.locator('.error-page input[name=search]').count()).toBe(1);
    await page.screenshot({ path: join(DOCS, 'error-page.png') });
    await page.close();

    const viewer = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await signIn(viewer, 'viewer');
    const denied = await viewer.goto(`${web.url}/variable/list`);
    expect(denied?.status()).toBe(403);
    expect(await viewer.locator('header.top nav').count()).toBe(1);
    expect((await viewer.locator('.error-page').textContent())!.replace(/\s+/g, ' ')).toContain(
      'with the role Viewer',
    );
    await viewer.close();
  }, 60_000);

  it('grid: runs labelled with dates, bars as tall as runs are long, dependency order, collapsible groups, durations', async () => {
    const store = await ctx.db();
    // Two finished runs of known length: 10 s and 60 s.
    const base = Date.UTC(2026, 0, 2, 3, 0, 0);
    for (const [i, seconds] of [
      [0, 10],
      [1, 60],
    ] as const) {
      const run = await triggerDagRun(store, 'example_task_group', {
        runId: `timed_${i}`,
        logicalDate: base + i * 3_600_000,
      });
      await store.kysely
        .updateTable('dag_run')
        .set({
          state: 'success',
          start_date: base + i * 3_600_000,
          end_date: base + i * 3_600_000 + seconds * 1000,
        })
        .where('id', '=', run.id)
        .execute();
    }
    const page = await adminPage();
    await page.goto(`${web.url}/dags/example_task_group/grid?run_id=timed_1`);
    const bar = (runId: string) => page.locator(`span.runbar[data-run-id="${runId}"]`);
    expect(await bar('timed_0').getAttribute('data-seconds')).toBe('10');
    const heights = await Promise.all(
      ['timed_0', 'timed_1'].map(async (id) => (await bar(id).boundingBox())!.height),
    );
    expect(heights[1]).toBe(60);
    expect(heights[0]).toBe(10);
    expect(await page.locator('tr.run-dates .runlabel').allTextContents()).toContain('01-02 03:00');
    expect((await page.locator('#duration-summary').textContent())!.replace(/\s+/g, ' ')).toContain(
      'Run: 1m 0s',
    );

    // Nested groups, in dependency order; a group collapses and stays collapsed across refreshes.
    const rowIds = await page
      .locator('table.grid tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => (tr as HTMLElement).dataset.taskId ?? `group:${(tr as HTMLElement).dataset.group}`),
      );
    expect(rowIds).toEqual([
      'start',
      'group:section_1',
      'section_1.task_1',
      'section_1.task_2',
      'section_1.task_3',
      'group:section_2',
      'section_2.task_1',
      'group:section_2.inner_section_2',
      'section_2.inner_section_2.task_2',
      'section_2.inner_section_2.task_3',
      'section_2.inner_section_2.task_4',
      'end',
    ]);
    await page.click('button.group-toggle[data-group="section_2"]');
    expect(await page.locator('tr[data-task-id="section_2.inner_section_2.task_4"]').isVisible()).toBe(false);
    expect(await page.locator('tr[data-task-id="end"]').isVisible()).toBe(true);
    await page.waitForTimeout(3500); // one live refresh
    expect(await page.locator('tr[data-task-id="section_2.task_1"]').isVisible()).toBe(false);
    await page.click('button.group-toggle[data-group="section_2"]');
    expect(await page.locator('tr[data-task-id="section_2.task_1"]').isVisible()).toBe(true);
    await page.screenshot({ path: join(DOCS, 'grid.png'), fullPage: true });

    // A DAG declared out of order still lists each task after its upstream.
    await page.goto(`${web.url}/dags/wide_nested_groups/grid`);
    const wideRows = await page
      .locator('table.grid tbody tr[data-task-id]')
      .evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.taskId));
    expect(wideRows[0]).toBe('start_of_the_whole_pipeline');
    expect(wideRows.at(-1)).toBe('publish_everything_to_the_warehouse');
    await page.close();
  }, 60_000);

  it('graph: a wide DAG with nested groups fits the screen, labels whole, groups collapse, states colour nodes, nodes open', async () => {
    const page = await adminPage(1280, 800);
    await page.goto(`${web.url}/dags/wide_nested_groups/graph`);
    await page.waitForSelector('svg.graph a.node');
    // Every group drawn as a box, nested ones inside their parent.
    for (const gid of ['europe', 'europe.transform', 'asia_pacific.transform'])
      expect(await page.locator(`svg.graph g.group[data-group-id="${gid}"]`).count()).toBe(1);
    // The layout is wider than the screen; fitted, every node is inside the viewport.
    const viewport = (await page.locator('.graph-viewport').boundingBox())!;
    expect(Number(await page.locator('svg.graph').getAttribute('data-width'))).toBeGreaterThan(1280);
    for (const box of await page
      .locator('svg.graph a.node')
      .evaluateAll((nodes) => nodes.map((n) => n.getBoundingClientRect().toJSON() as DOMRect))) {
      expect(box.left).toBeGreaterThanOrEqual(viewport.x - 1);
      expect(box.right).toBeLessThanOrEqual(viewport.x + viewport.width + 1);
    }
    // No label is wider than its box.
    const overflow = await page.locator('svg.graph a.node').evaluateAll(
      (nodes) =>
        nodes.filter((n) => {
          const rect = (n.querySelector('rect') as SVGRectElement).getBBox();
          return [...n.querySelectorAll('text')].some((t) => {
            const b = (t as SVGTextElement).getBBox();
            return b.x + b.width > rect.x + rect.width;
          });
        }).length,
    );
    expect(overflow).toBe(0);
    // Colours by the run's states: the run triggered at start finishes green.
    await expect
      .poll(
        () => page.locator('a.node[data-task-id="start_of_the_whole_pipeline"]').getAttribute('data-state'),
        {
          timeout: 60_000,
        },
      )
      .toBe('success');
    await page.screenshot({ path: join(DOCS, 'graph.png') });

    // Zoom in, then collapse a group: it becomes one node; expanding brings its tasks back.
    await page.click('button[data-graph="in"]');
    await Promise.all([
      page.waitForURL(/collapsed=europe/),
      page.click('g.group[data-group-id="europe"] a.group-label'),
    ]);
    expect(await page.locator('a.collapsed-group[data-group-id="europe"]').count()).toBe(1);
    expect(
      await page.locator('a.node[data-task-id="europe.extract_customer_orders_from_source"]').count(),
    ).toBe(0);
    expect(await page.locator('a.collapsed-group[data-group-id="europe"]').getAttribute('data-state')).toBe(
      'success',
    );
    await page.screenshot({ path: join(DOCS, 'graph-collapsed.png') });
    await Promise.all([
      page.waitForURL((u) => !u.search.includes('europe')),
      page.click('a.collapsed-group[data-group-id="europe"]'),
    ]);
    expect(
      await page.locator('a.node[data-task-id="europe.extract_customer_orders_from_source"]').count(),
    ).toBe(1);

    // A node opens its task instance.
    await Promise.all([
      page.waitForURL(/task_id=americas.load_into_regional_mart/),
      page.click('a.node[data-task-id="americas.load_into_regional_mart"]'),
    ]);
    expect(await page.locator('#ti-panel').textContent()).toContain('americas.load_into_regional_mart');
    await page.close();
  }, 90_000);

  it('DAG list: next run of paused DAGs greyed, schedule said once, sortable columns, Links column', async () => {
    const page = await adminPage();
    await page.goto(`${web.url}/home`);
    // example_bash_operator is paused with a daily schedule: its next run shows, greyed.
    const bash = page.locator('tr[data-dag-id="example_bash_operator"]');
    expect(await bash.locator('input.switch').isChecked()).toBe(false);
    expect(await bash.locator('td.next-run .paused-next').textContent()).toMatch(
      /^\d{4}-\d\d-\d\d 00:00:00 UTC$/,
    );
    // No schedule cell repeats itself.
    for (const text of await page.locator('tr[data-dag-id] td:nth-child(5)').allInnerTexts()) {
      const lines = text
        .split('\n')
        .map((l) => l.trim().toLowerCase())
        .filter(Boolean);
      expect(new Set(lines).size).toBe(lines.length);
      if (lines.length === 2) expect(lines[1]).not.toContain(lines[0]);
    }
    // Links column: Grid, Graph, Code, Details.
    const links = await bash.locator('td.links a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(links).toEqual([
      '/dags/example_bash_operator/grid',
      '/dags/example_bash_operator/graph',
      '/dags/example_bash_operator/code',
      '/dags/example_bash_operator/details',
    ]);
    // Sort by DAG id descending, then by last run (DAGs with runs first).
    const ids = () =>
      page.locator('tr[data-dag-id]').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-dag-id')!));
    const ascending = await ids();
    await Promise.all([page.waitForURL(/sort=dag_id&order=desc/), page.click('a.sort[data-sort="dag_id"]')]);
    expect(await ids()).toEqual([...ascending].sort().reverse().slice(0, ascending.length));
    await Promise.all([page.waitForURL(/sort=last_run/), page.click('a.sort[data-sort="last_run"]')]);
    const withRuns = await page
      .locator('tr[data-dag-id]')
      .evaluateAll((trs) =>
        trs.map((t) => (t.querySelector('td:nth-child(6)')!.textContent ?? '').trim() !== ''),
      );
    expect(withRuns.indexOf(false)).toBeGreaterThan(0);
    expect(withRuns.slice(withRuns.indexOf(false))).not.toContain(true);
    await page.goto(`${web.url}/home`);
    await page.screenshot({ path: join(DOCS, 'dag-list.png') });
    await page.close();
  }, 60_000);

  it('a viewer sees why the toggles are disabled; the Users page lists each role once; a favicon', async () => {
    const viewer = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await signIn(viewer, 'viewer');
    const toggle = viewer.locator('tr[data-dag-id="example_bash_operator"] input.switch');
    expect(await toggle.isDisabled()).toBe(true);
    expect(await toggle.evaluate((el) => getComputedStyle(el).opacity)).toBe('0.4');
    expect(await toggle.getAttribute('title')).toContain('Your role (Viewer) cannot pause or unpause DAGs');
    expect(await viewer.locator('#read-only-note').textContent()).toContain('read-only');
    const icon = await viewer.locator('link[rel=icon]').getAttribute('href');
    const res = await viewer.request.get(`${web.url}${icon}`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toContain('image/svg+xml');
    await viewer.close();

    const page = await adminPage();
    await page.goto(`${web.url}/users/list`);
    const roleCell = (await page.locator('tr:has(td:text-is("viewer")) td:nth-child(4)').innerText()).trim();
    expect(roleCell.match(/Viewer/g)?.length ?? 0).toBeLessThanOrEqual(1);
    expect(await page.locator('tr:has(td:text-is("viewer")) select[name=role]').inputValue()).toBe('Viewer');
    await page.screenshot({ path: join(DOCS, 'users.png') });
    await page.close();
  }, 60_000);

  it('the Code tab shows the TypeScript a DAG was written in; the API reference is Swagger UI served locally', async () => {
    const page = await adminPage();
    await page.goto(`${web.url}/dags/example_dynamic_task_mapping/code`);
    const code = (await page.locator('#dag-source').textContent())!;
    expect(code).toContain("import { BashOperator, dag, task } from 'updraft';");
    expect(code).toContain('(x: number)');
    expect(await page.locator('#dag-source').getAttribute('data-language')).toBe('typescript');
    expect(await page.locator('#dag-fileloc').textContent()).toMatch(/example_dynamic_task_mapping\.ts$/);

    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(web.url)) external.push(r.url());
    });
    await Promise.all([page.waitForURL(/\/api\/v1\/ui\/$/), page.click('header.top nav a:text-is("API")')]);
    await page.waitForSelector('.opblock-tag', { timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(10);
    expect(await page.locator('.opblock-summary-path[data-path="/dags"]').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(DOCS, 'api-reference.png') });
    expect(external).toEqual([]);
    await page.close();
  }, 60_000);
});
