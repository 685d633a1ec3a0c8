import { join } from 'node:path';

/** One test configuration for every package: results land in `.vitest-result.json` for the CI summary. */
export function sharedTestConfig(packageDir: string) {
  return {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: join(packageDir, '.vitest-result.json') }]] as never,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks' as const,
    allowOnly: false,
    passWithNoTests: true,
  };
}
