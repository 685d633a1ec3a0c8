import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

/** The issue-14 variants matrix alone (see vitest.config.ts for why it is not part of `pnpm test`). */
export default defineConfig({
  test: {
    ...sharedTestConfig(import.meta.dirname),
    include: ['test/resync/variants.test.ts'],
    reporters: [
      'default',
      ['json', { outputFile: join(import.meta.dirname, '.vitest-variants.json') }],
    ] as never,
  },
});
