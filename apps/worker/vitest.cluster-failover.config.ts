import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

/** Only the Redis Cluster failover run (vitest.config.ts says why it is apart). */
export default defineConfig({
  test: { ...sharedTestConfig(import.meta.dirname), include: ['test/cluster-failover.test.ts'] },
});
