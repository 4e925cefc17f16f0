/**
 * The README's "Working in the repo" block, run as written: every line but the CI test line, in order, from the
 * repository root. `tmp/` (where the README writes its outputs) is mapped to a fresh temporary folder; ports
 * are the ones the README's flags name; lines ending in `&` are started in the background and awaited until
 * they print their ready line, then stopped at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');

/** The shell lines of the first ```sh block under "## Working in the repo", comments removed. */
function readmeCommands(readme: string): string[] {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Working in the repo'));
  const block = section && /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README.md has no ```sh block under "## Working in the repo"');
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#\s.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** CI runs the tests; this test runs everything else. */
const isTestLine = (line: string) => /^npm test\b/.test(line) || /\bnx run-many\b.*\btest\b/.test(line);

/** The README's `tmp/…` (and `$PWD/tmp/…`) paths, pointed at `dir`. */
const inTemp = (line: string, dir: string) => line.replace(/(?:\$PWD\/|(?<![\w./-]))tmp\//g, `${dir}/`);

interface Expectation {
  /** Which README line this is about. */
  line: RegExp;
  /** What its stdout must show (foreground), or the line that says it is ready (background). */
  output: RegExp;
}

/** Key output per command; every one must match a README line, so dropping a step fails here. */
const EXPECTED: Expectation[] = [
  { line: /nx run @slmops\/cli:build/, output: /Successfully ran target build/ },
  { line: /nx run @slmops\/api:generate/, output: /Successfully ran target generate/ },
  { line: /slmops\.js validate -f examples\//, output: /examples\/cpu-fleet\.yaml: SLMDeployment default\/stories-cpu is valid/ },
  { line: /slmops\.js convert /, output: /^wrote .*stories260k: stories260k/m },
  { line: /slmops\.js generate /, output: /^Once upon a time\S*\s+\S+/ },
  { line: /slmops\.js tools /, output: /^export PATH=".*\/bin:\$PATH"$/m },
  { line: /slmops-kube-emulator /, output: /kube-emulator listening on http:\/\/127\.0\.0\.1:16443 with 50 simulated nodes/ },
  { line: /slmops\.js operator /, output: /slmops operator: watching SLMDeployments in all namespaces .*leader election off/ },
  { line: /kubectl apply /, output: /slmdeployment\.slmops\.io\/stories-cpu (created|configured|unchanged)/ },
  { line: /kubectl wait .*--for=condition=Ready slmd\/stories-cpu/, output: /slmdeployment\.slmops\.io\/stories-cpu condition met/ },
  { line: /kubectl slm get -o wide/, output: /^NAME\s+MODEL\s+VERSION\s+READY[^\n]*PLACEMENTS\n+stories-cpu\s+stories260k\s+1\.0\.0\s+([1-9]\d*)\/\1\s+\1\s+Complete\b/m },
  { line: /kubectl slm rollout status stories-cpu/, output: /slmdeployment "stories-cpu" successfully rolled out/ },
];

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

const background: ChildProcess[] = [];

/** `sh -c line` in its own process group (so stopping it stops what npx started too). */
function start(line: string, env: NodeJS.ProcessEnv): { child: ChildProcess; out: () => string; err: () => string } {
  const child = spawn('sh', ['-c', line], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { child, out: () => out, err: () => err };
}

function run(line: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Finished> {
  const p = start(line, env);
  const timer = setTimeout(() => process.kill(-p.child.pid!, 'SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    p.child.once('error', reject);
    p.child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: p.out(), stderr: p.err() });
    });
  });
}

/** Starts a long-running line and resolves once its output matches `ready`; rejects if it exits first. */
function startBackground(line: string, env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs: number): Promise<string> {
  const p = start(line, env);
  background.push(p.child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`"${line}" printed no ready line in ${timeoutMs} ms:\n${p.out()}\n${p.err()}`)), timeoutMs);
    const check = () => {
      if (ready.test(stripVTControlCharacters(p.out())) || ready.test(stripVTControlCharacters(p.err()))) {
        clearTimeout(timer);
        resolve(p.out() + p.err());
      }
    };
    p.child.stdout!.on('data', check);
    p.child.stderr!.on('data', check);
    p.child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`"${line}" exited with ${code} before it was ready:\n${p.out()}\n${p.err()}`));
    });
  });
}

async function stopAll(): Promise<void> {
  await Promise.all(
    background.splice(0).map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          try {
            process.kill(-c.pid!, 'SIGTERM');
          } catch {
            resolve();
          }
        }),
    ),
  );
}

describe('README "Working in the repo"', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slmops-readme-'));
  afterAll(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('parses the block, skipping only the CI test line, and knows what each command must print', () => {
    const lines = readmeCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(lines.filter(isTestLine)).toHaveLength(1);
    for (const e of EXPECTED) expect(lines.filter((l) => e.line.test(l)), `a README line matching ${e.line}`).toHaveLength(1);
    expect(inTemp('x --out tmp/a "$PWD/tmp/bin:$PATH" a/tmp/b', '/t')).toBe('x --out /t/a "/t/bin:$PATH" a/tmp/b');
  });

  it('runs every command as written, each with the exit code and output it documents', async () => {
    const lines = readmeCommands(readFileSync(join(ROOT, 'README.md'), 'utf8')).filter((l) => !isTestLine(l));
    let env: NodeJS.ProcessEnv = { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', KUBECONFIG: join(dir, 'no-such-kubeconfig') };
    for (const raw of lines) {
      const line = inTemp(raw, dir);
      const expected = EXPECTED.find((e) => e.line.test(raw));
      if (line.startsWith('export ')) {
        // The next lines run in fresh shells: carry the variable over as the user's shell would.
        const r = await run(`${line}; printf '%s' "$PATH"`, env, 10_000);
        expect(r.code, line).toBe(0);
        env = { ...env, PATH: r.stdout };
        continue;
      }
      if (line.endsWith('&')) {
        if (!expected) throw new Error(`no ready line known for the background command "${raw}"`);
        await startBackground(line.slice(0, -1).trim(), env, expected.output, 120_000);
        continue;
      }
      const r = await run(line, env, 300_000);
      expect({ line: raw, code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ line: raw, code: 0, stderr: '' });
      // Nx colours its summary when its parent forces colour; the words are what the README promises.
      if (expected) expect(stripVTControlCharacters(r.stdout), raw).toMatch(expected.output);
    }
    // The PATH line the tools command printed is the one the README exports.
    expect(env.PATH!.startsWith(`${dir}/bin:`)).toBe(true);
  }, 900_000);
});
