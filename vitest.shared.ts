import { join } from 'node:path';

/** One test configuration for every package: results land in `.vitest-result.json` for the CI summary. */
export function sharedTestConfig(packageDir: string) {
  return {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: join(packageDir, '.vitest-result.json') }]] as never,
    // Generous: CI runs the packages' suites in parallel on 2 cores, where starting an app under tsx has taken
    // over 30 s; a test's own waits name what they wait for, so a real hang still fails with a clear message.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks' as const,
    allowOnly: false,
    passWithNoTests: true,
  };
}
