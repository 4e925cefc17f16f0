#!/usr/bin/env node
// The README's test command: runs every project's `test` target through Nx, then prints one closing line
// `N passed, N failed, N skipped` summed from the JSON reports Vitest writes per project (vitest.shared.ts).
// A project whose run left no report counts as one failure, so a crash can never look like a pass.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const resultsDir = join(root, 'tmp', 'test-results');
const extraArgs = process.argv.slice(2);
const nx = (args, opts = {}) =>
  spawnSync(process.execPath, [join(root, 'node_modules', 'nx', 'dist', 'bin', 'nx.js'), ...args], { cwd: root, ...opts });

rmSync(resultsDir, { recursive: true, force: true });

const listed = nx(['show', 'projects', '--withTarget', 'test', '--json'], { encoding: 'utf8' });
if (listed.status !== 0) {
  process.stderr.write(listed.stderr ?? '');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const projects = JSON.parse(listed.stdout);

const run = nx(['run-many', '-t', 'test', '--skip-nx-cache', '--outputStyle=stream', ...extraArgs], { stdio: 'inherit' });

// Suites that rebuild or regenerate what the others read run alone, after them (unless a filter names projects).
const filtered = extraArgs.some((a) => a.startsWith('--projects') || a === '-p');
const sequential = filtered ? [] : [{ project: '@slmops/cli', target: 'test-readme', report: '@slmops/cli-readme' }];
const sequentialRuns = sequential.map((s) => ({ ...s, status: nx(['run', `${s.project}:${s.target}`, '--skip-nx-cache', '--outputStyle=stream'], { stdio: 'inherit' }).status }));

const reports = [];
const collect = (dir) => {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) collect(path);
    else if (entry.endsWith('.json')) reports.push(path);
  }
};
collect(resultsDir);

let passed = 0;
let failed = 0;
let skipped = 0;
const reported = new Set();
for (const path of reports) {
  const report = JSON.parse(readFileSync(path, 'utf8'));
  reported.add(relative(resultsDir, path).replace(/\.json$/, ''));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  // A test file that failed to load has no test results but does fail the run.
  failed += report.testResults.filter((file) => file.status === 'failed' && file.assertionResults.length === 0).length;
}
for (const project of [...(filtered ? [] : projects), ...sequential.map((s) => s.report)]) {
  if (!reported.has(project)) {
    console.error(`no test report from ${project}: its test run crashed or did not start`);
    failed += 1;
  }
}
if (run.status !== 0 && failed === 0) {
  console.error(`nx run-many exited with ${run.status}`);
  failed += 1;
}
for (const s of sequentialRuns) {
  if (s.status !== 0 && failed === 0) {
    console.error(`nx run ${s.project}:${s.target} exited with ${s.status}`);
    failed += 1;
  }
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || run.status !== 0 || sequentialRuns.some((s) => s.status !== 0) ? 1 : 0);
