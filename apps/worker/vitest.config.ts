import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

const shared = sharedTestConfig(import.meta.dirname);

/**
 * The issue-14 variants matrix (test/resync/variants.test.ts) runs on its own, `pnpm --filter
 * @octi-sekoia/worker test:variants`, not in `pnpm test`: it stalled without finishing in 2 of 4 full runs
 * (cause not found yet; README "Development"), and one stalled file would hold CI until its time limit.
 */
export default defineConfig({
  test: { ...shared, exclude: ['**/node_modules/**', 'test/resync/variants.test.ts'] },
});
