import { defineConfig } from 'vitest/config';

/**
 * End-to-end tests on a real systemd host (scripts/test-host.mjs): `npm run test:e2e`, as root.
 * Kept out of the default suite (test/**\/*.test.ts) because one run takes several minutes.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
