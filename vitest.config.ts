import { defineConfig } from 'vitest/config';

// End-to-end tests start real Prosody servers and real agent processes, so
// they run one file at a time (two cores) with generous timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default'],
  },
});
