import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: browser and media tests contend for CPU, so run files with bounded parallelism.
    maxWorkers: 2,
    typecheck: { enabled: true, include: ['packages/*/test-d/**/*.test-d.ts'], tsconfig: './tsconfig.tests.json' },
  },
});
