import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext, type AppContext } from '../../src/context.js';
import { migrateToLatest } from '../../src/db/index.js';
import { processDagFolderOnce } from '../../src/dag-processing/index.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { createUser } from '../../src/users/index.js';
import { startWebserver, type RunningWebserver } from '../../src/web/index.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

/**
 * The UI in Debian's Chromium against a real webserver, the bundled example DAGs and a real
 * scheduler: sign in, DAG list, pause toggle, trigger with conf, the run going green in the grid,
 * the task log, the scheduler banner appearing and vanishing, role restrictions. Saves the
 * screenshots in docs/ (the trigger form, graph, DAG list and users pages are browser-airflow-parity's).
 */
const CHROMIUM = '/usr/bin/chromium';
const DOCS = resolve(import.meta.dirname, '../../docs');

let ctx: AppContext;
let database: TestDatabase;
let home: string;
let web: RunningWebserver;
let browser: Browser;
let scheduler: { instance: Scheduler; done: Promise<unknown> } | null = null;

let schedulerError: unknown = null;

function startScheduler(): void {
  const instance = new Scheduler(ctx, { runDagProcessor: false });
  const done = instance.run().catch((error: unknown) => {
    schedulerError = error;
  });
  scheduler = { instance, done };
}

/** Wait for the banner to go, failing at once with the scheduler's own error if it could not start. */
async function bannerGone(page: Page): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    if (schedulerError) throw schedulerError;
    if ((await page.locator('#scheduler-banner').count()) === 0) return;
    await page.waitForTimeout(250);
  }
  throw new Error('The scheduler banner did not go away within 45 s of starting the scheduler.');
}

async function stopScheduler(): Promise<void> {
  if (!scheduler) return;
  scheduler.instance.stop();
  await scheduler.done;
  scheduler = null;
}

async function signIn(page: Page, username: string): Promise<void> {
  await page.goto(`${web.url}/login`);
  await page.fill('#username', username);
  await page.fill('#password', `${username}-pass`);
  await Promise.all([page.waitForURL(/\/home/), page.click('button[type=submit]')]);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  home = await mkdtemp(join(tmpdir(), 'updraft-browser-'));
  database = await createTestDatabase('sqlite');
  ctx = createContext({
    env: {
      ...process.env,
      AIRFLOW_HOME: home,
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: database.url,
      AIRFLOW__CORE__LOAD_EXAMPLES: 'True',
      AIRFLOW__CORE__DAGS_FOLDER: join(home, 'dags'),
      AIRFLOW__LOGGING__LOGGING_LEVEL: 'ERROR',
      AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD: '5',
      AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC: '1',
    },
    onWarning: () => {},
  });
  await mkdir(join(home, 'dags'), { recursive: true });
  const store = await ctx.db();
  await migrateToLatest(store);
  for (const [username, role] of [
    ['admin', 'Admin'],
    ['viewer', 'Viewer'],
  ]) {
    await createUser(store, {
      username: username!,
      email: `${username}@example.com`,
      firstName: username!,
      lastName: 'T',
      password: `${username}-pass`,
      roles: [role!],
    });
  }
  await processDagFolderOnce(ctx);
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
  await stopScheduler().catch(() => undefined);
  await browser?.close();
  await web?.close();
  await ctx?.close();
  await database?.drop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('UI in Chromium', () => {
  it('signs in, lists the examples, pauses, triggers with conf, watches the run go green, reads the log', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(`${web.url}/home`);
    await expect.poll(() => page.url()).toContain('/login?next=%2Fhome');
    await page.screenshot({ path: join(DOCS, 'sign-in.png') });
    await signIn(page, 'admin');

    // DAG list with the examples; the scheduler is not running yet, so the banner shows.
    await page.waitForSelector('tr[data-dag-id="example_bash_operator"]');
    expect(await page.locator('tr[data-dag-id]').count()).toBeGreaterThan(10);
    await page.waitForSelector('#scheduler-banner');

    // Unpause example_bash_operator with its toggle (examples start paused).
    const row = page.locator('tr[data-dag-id="example_bash_operator"]');
    const toggle = row.locator('input.switch');
    const wasOn = await toggle.isChecked();
    await Promise.all([page.waitForLoadState('load'), toggle.click()]);
    await expect
      .poll(async () => page.locator('tr[data-dag-id="example_bash_operator"] input.switch').isChecked())
      .toBe(!wasOn);
    if (wasOn) await page.locator('tr[data-dag-id="example_bash_operator"] input.switch').click();
    const store = await ctx.db();
    await expect
      .poll(
        async () =>
          (
            await store.kysely
              .selectFrom('dag')
              .select('is_paused')
              .where('dag_id', '=', 'example_bash_operator')
              .executeTakeFirstOrThrow()
          ).is_paused,
      )
      .toBe(0);

    // Trigger with config.
    await page.goto(`${web.url}/dags/example_bash_operator/trigger`);
    await page.click('#conf-section summary');
    await page.fill('textarea[name=conf]', '{"from_browser": true}');
    await Promise.all([page.waitForURL(/\/grid\?run_id=/), page.click('#trigger-form button[type=submit]')]);
    await page.waitForSelector('.flash');
    const run = await store.kysely
      .selectFrom('dag_run')
      .selectAll()
      .where('dag_id', '=', 'example_bash_operator')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(run.conf!)).toMatchObject({ from_browser: true, example_key: 'example_value' });

    // A real scheduler runs it; the grid updates without a reload until the run is green.
    startScheduler();
    await bannerGone(page);
    await page.waitForSelector(`span.runbar[data-run-id="${run.run_id}"][data-state="success"]`, {
      timeout: 90_000,
    });
    const cell = (taskId: string) => `span.cell[data-task-id="${taskId}"][data-run-id="${run.run_id}"]`;
    expect(await page.locator(cell('runme_0')).getAttribute('data-state')).toBe('success');
    expect(await page.locator(cell('this_will_skip')).getAttribute('data-state')).toBe('skipped');

    // Task log.
    await Promise.all([page.waitForURL(/task_id=runme_0/), page.locator(cell('runme_0')).click()]);
    await expect
      .poll(() => page.locator('pre.log').textContent(), { timeout: 15_000 })
      .toContain('example_bash_operator__runme_0');
    await page.screenshot({ path: join(DOCS, 'grid-and-log.png'), fullPage: true });

    await page.goto(`${web.url}/dags/example_bash_operator/graph`);
    await page.waitForSelector('svg.graph a.node');
    await page.close();
  }, 180_000);

  it('the scheduler banner appears when heartbeats stop and vanishes when they return, without a reload', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    if (!scheduler) startScheduler();
    await signIn(page, 'admin');
    await bannerGone(page);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    await stopScheduler();
    await page.waitForSelector('#scheduler-banner', { timeout: 20_000 });
    expect((await page.locator('#scheduler-banner').textContent())?.replace(/\s+/g, ' ')).toMatch(
      /The scheduler does not appear to be running\. Last heartbeat was received \d{4}-\d\d-\d\d/,
    );
    await page.screenshot({ path: join(DOCS, 'scheduler-banner.png') });
    startScheduler();
    await bannerGone(page);
    // Same document all along: the banner came and went through live updates.
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);
    await stopScheduler();
    await page.close();
  }, 150_000);

  it('a viewer sees no actions and is refused admin pages', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await signIn(page, 'viewer');
    await page.waitForSelector('tr[data-dag-id="example_bash_operator"]');
    expect(await page.locator('tr[data-dag-id="example_bash_operator"] input.switch').isDisabled()).toBe(
      true,
    );
    expect(await page.locator('button[aria-label^="Trigger"]').count()).toBe(0);
    expect(await page.locator('header.top nav summary:text-is("Admin")').count()).toBe(0);
    const res = await page.goto(`${web.url}/variable/list`);
    expect(res?.status()).toBe(403);
    const trigger = await page.goto(`${web.url}/dags/example_bash_operator/trigger`);
    expect(trigger?.status()).toBe(403);
    await page.close();
  }, 60_000);

  it('admin pages: a connection added through the form shows its password masked; audit log lists user actions', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await signIn(page, 'admin');
    await page.goto(`${web.url}/connection/list`);
    await page.fill('form[action="/connection/add"] input[name=connection_id]', 'warehouse');
    await page.fill('form[action="/connection/add"] input[name=conn_type]', 'postgres');
    await page.fill('form[action="/connection/add"] input[name=host]', 'db.internal');
    await page.fill('form[action="/connection/add"] input[name=password]', 'hunter2-secret');
    await Promise.all([page.waitForLoadState('load'), page.click('form[action="/connection/add"] button')]);
    await page.waitForSelector('text=Saved connection warehouse.');
    const html = await page.content();
    expect(html).toContain('db.internal');
    expect(html).not.toContain('hunter2-secret');
    await page.screenshot({ path: join(DOCS, 'connections.png') });
    await page.goto(`${web.url}/log/list`);
    const audit = await page.locator('table.list').textContent();
    expect(audit).toContain('trigger');
    expect(audit).toContain('unpaused');
    expect(audit).toContain('login');
    await page.screenshot({ path: join(DOCS, 'audit-log.png') });
    await page.close();
  }, 60_000);
});
