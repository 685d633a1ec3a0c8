#!/usr/bin/env node
// No Docker engine runs on the CI machines, so this replays each Dockerfile's own steps (read from the
// Dockerfile, so the two cannot drift): the build stage's COPY/RUN in a scratch copy of the build context,
// then the runtime stage's COPY --from, and finally starts each runtime command (the image CMD and every
// docker-compose command that uses the image) with an empty environment. A bundle that loads with only the
// production dependencies stops with the configuration error (exit 2); anything else is a broken image.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.slice(2);
const dockerfiles = (only.length ? only : ['Dockerfile.ingest', 'Dockerfile.worker']).map((f) =>
  join(root, f),
);
const keep = process.env.KEEP_DOCKER_CHECK === '1';

/** Dockerfile → [{ instr, args, flags, from? }] with line continuations joined. */
export function parseDockerfile(text) {
  const lines = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!cur && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      cur += `${line.slice(0, -1)} `;
      continue;
    }
    cur += line;
    lines.push(cur.trim());
    cur = '';
  }
  return lines.map((l) => {
    const [instr, ...rest] = l.split(/\s+/);
    let args = l.slice(instr.length).trim();
    const flags = {};
    while (args.startsWith('--')) {
      const m = /^--([a-z-]+)(?:=(\S+))?\s*/.exec(args);
      if (!m) break;
      flags[m[1]] = m[2] ?? true;
      args = args.slice(m[0].length);
    }
    void rest;
    return { instr: instr.toUpperCase(), args, flags };
  });
}

function stages(instrs) {
  const out = [];
  for (const i of instrs) {
    if (i.instr === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
      out.push({ image: m[1], name: m[2] ?? String(out.length), steps: [] });
    } else out.at(-1).steps.push(i);
  }
  return out;
}

function contextFiles() {
  const ignore = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((p) => p.replace(/^\*\*\//, ''));
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
  return files.filter(
    (f) =>
      !f
        .split('/')
        .some((seg, idx, all) => ignore.includes(seg) || ignore.includes(all.slice(0, idx + 1).join('/'))),
  );
}

function fail(msg) {
  console.error(`docker build check: ${msg}`);
  process.exit(1);
}

const composeCommands = (() => {
  const compose = parseYaml(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));
  const byDockerfile = {};
  for (const [name, svc] of Object.entries(compose.services ?? {})) {
    const df = svc.build?.dockerfile;
    const img = svc.image;
    const key =
      df ?? Object.values(compose.services).find((s) => s.image === img && s.build)?.build?.dockerfile;
    if (key && svc.command) {
      byDockerfile[key] ??= [];
      byDockerfile[key].push({
        service: name,
        command: svc.command,
        simulator: (svc.profiles ?? []).includes('demo'),
      });
    }
  }
  return byDockerfile;
})();

for (const file of dockerfiles) {
  const name = posix.basename(file);
  const st = stages(parseDockerfile(readFileSync(file, 'utf8')));
  if (st.length < 2) fail(`${name}: expected a multi-stage build`);
  const scratch = mkdtempSync(join(tmpdir(), 'docker-check-'));
  const fsOf = {}; // stage name → scratch root
  try {
    for (const stage of st) {
      const sroot = join(scratch, stage.name);
      mkdirSync(sroot, { recursive: true });
      fsOf[stage.name] = sroot;
      let workdir = '/';
      const env = { ...process.env };
      let user = 'root';
      let cmd;
      let healthcheck = false;
      for (const step of stage.steps) {
        const at = (p) => join(sroot, posix.resolve(workdir, p));
        switch (step.instr) {
          case 'WORKDIR':
            workdir = posix.resolve(workdir, step.args);
            mkdirSync(at('.'), { recursive: true });
            break;
          case 'ENV':
            for (const m of step.args.matchAll(/(\w+)=(\S+)/g)) env[m[1]] = m[2];
            break;
          case 'COPY': {
            const parts = step.args.split(/\s+/);
            const dest = parts.pop();
            for (const src of parts) {
              if (step.flags.from) {
                const from = fsOf[step.flags.from];
                if (!from) fail(`${name}: COPY --from=${step.flags.from}: no such stage`);
                const s = join(from, src);
                if (!existsSync(s))
                  fail(`${name}: COPY --from=${step.flags.from} ${src}: not produced by the build stage`);
                cpSync(s, at(dest), { recursive: true, verbatimSymlinks: true });
              } else {
                if (src !== '.')
                  fail(`${name}: only "COPY . <dir>" from the context is supported by this check`);
                for (const f of contextFiles()) {
                  mkdirSync(dirname(join(at(dest), f)), { recursive: true });
                  cpSync(join(root, f), join(at(dest), f));
                }
              }
            }
            break;
          }
          case 'RUN': {
            if (/(^|\s)\/(repo|app|out)\b/.test(step.args))
              fail(`${name}: RUN must use paths relative to WORKDIR: ${step.args}`);
            console.log(`[${name}:${stage.name}] RUN ${step.args}`);
            const r = spawnSync('sh', ['-c', step.args], { cwd: at('.'), env, stdio: 'inherit' });
            if (r.status !== 0) fail(`${name}: RUN ${step.args} failed with exit ${r.status}`);
            break;
          }
          case 'USER':
            user = step.args;
            break;
          case 'CMD':
            cmd = { argv: JSON.parse(step.args), workdir };
            break;
          case 'HEALTHCHECK':
            healthcheck = true;
            break;
          default:
            break;
        }
      }
      if (stage === st.at(-1)) {
        if (user === 'root' || user === '0')
          fail(`${name}: the runtime stage must switch to a non-root USER`);
        if (!healthcheck) fail(`${name}: the runtime stage needs a HEALTHCHECK`);
        if (!cmd) fail(`${name}: the runtime stage needs a CMD`);
        const commands = [{ service: 'image CMD', command: cmd.argv }, ...(composeCommands[name] ?? [])];
        for (const c of commands) {
          const argv = (typeof c.command === 'string' ? c.command.split(/\s+/) : c.command).map((a) =>
            a.startsWith('/') ? join(sroot, a) : a,
          );
          if (argv[0] !== 'node') fail(`${name}: ${c.service}: expected a node command, got ${argv[0]}`);
          const script = argv.find((a, i) => i > 0 && !a.startsWith('-'));
          if (!script || !existsSync(script)) fail(`${name}: ${c.service}: ${script} is not in the image`);
          for (const a of argv)
            if (a.startsWith(sroot) && !existsSync(a))
              fail(`${name}: ${c.service}: ${a.slice(sroot.length)} is not in the image`);
          // A simulator takes no configuration and would serve forever: it must at least load and answer --help.
          if (c.simulator) {
            const h = spawnSync('node', [script, '--help'], { encoding: 'utf8', timeout: 30_000 });
            if (h.status !== 0 || !/Usage/.test(h.stdout))
              fail(`${name}: ${c.service}: --help failed\n${h.stdout}\n${h.stderr}`);
            console.log(`[${name}] ${c.service}: loads with production dependencies only (answers --help)`);
            continue;
          }
          const r = spawnSync('node', argv.slice(1), {
            cwd: join(sroot, cmd.workdir),
            env: { PATH: process.env.PATH, NODE_ENV: 'production' },
            encoding: 'utf8',
            timeout: 30_000,
          });
          if (r.status !== 2 || !/config error/.test(r.stderr)) {
            fail(
              `${name}: ${c.service}: expected a configuration error (exit 2) with an empty environment, got exit ${r.status}\n${r.stdout}\n${r.stderr}`,
            );
          }
          console.log(
            `[${name}] ${c.service}: loads with production dependencies only (stops on the empty config as it should)`,
          );
        }
      }
    }
  } finally {
    if (!keep) rmSync(scratch, { recursive: true, force: true });
  }
}
console.log('docker build check: ok');
