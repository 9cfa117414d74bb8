import { defineConfig } from 'vitest/config';

/**
 * Tests that measure capacity or drive a real browser need the machine to themselves: on two
 * cores, a thousand connections or Chromium beside other test files turn slow answers into
 * Lambda timeouts. They run one file at a time, after everything else has finished.
 */
const EXCLUSIVE = ['test/e2e/load.test.ts', 'test/browser/**/*.test.ts'];

const shared = {
  pool: 'forks',
  testTimeout: 30_000,
  hookTimeout: 30_000,
  // Handlers log through Powertools; keep test output readable. Tests that assert on logs
  // capture them explicitly.
  env: {
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    // The pinned SDK warns that its 2027 releases need Node.js 22 (see README); once is enough.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  },
} as const;

export default defineConfig({
  test: {
    projects: [
      { test: { ...shared, name: 'parallel', include: ['test/**/*.test.ts'], exclude: EXCLUSIVE, sequence: { groupOrder: 0 } } },
      { test: { ...shared, name: 'exclusive', include: EXCLUSIVE, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
