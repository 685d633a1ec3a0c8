import { describe, expect, it } from 'vitest';
import { readRepoFile } from './files.ts';

const files = ['Dockerfile.ingest', 'Dockerfile.worker'];

describe.each(files)('%s', (file) => {
  const text = readRepoFile(file);
  const stages = text.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1) ?? '';

  it('is multi-stage on Node 20', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s).toMatch(/^node:20/);
  });

  it('installs with the frozen lockfile and the pinned pnpm', () => {
    expect(text).toMatch(/pnpm install --frozen-lockfile/);
    expect(text).toMatch(/npm i -g pnpm@12\.4\.2/);
  });

  it('ships only production dependencies (pnpm deploy --prod)', () => {
    expect(text).toMatch(/deploy --prod/);
    expect(runtime).not.toMatch(/pnpm install/);
  });

  it('runs as a non-root user with a HEALTHCHECK', () => {
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK /m);
  });

  // fetch() loads undici: about three times the CPU of node:http per check, which on a loaded host pushed the
  // check past its 5 s timeout and reported running apps unhealthy (seen in the compose e2e).
  it('probes /healthz with node:http, not fetch', () => {
    const check = /^HEALTHCHECK[^\n]*\\\n\s*CMD (.*)$/m.exec(runtime)?.[1] ?? '';
    expect(check).toMatch(/require\('http'\)\.get\('http:\/\/127\.0\.0\.1:.*\/healthz'/);
    expect(check).not.toContain('fetch(');
  });

  it('bakes no secret in', () => {
    expect(text).not.toMatch(/(TOKEN|APIKEY|PASSWORD)\s*=/);
    expect(text).not.toMatch(/COPY[^\n]*\.env\b/);
  });
});

it('.dockerignore keeps local state out of the build context', () => {
  const ignore = readRepoFile('.dockerignore');
  for (const entry of ['node_modules', '.env', '.git', 'dist']) expect(ignore).toContain(entry);
});
