#!/usr/bin/env node
// The whole test suite, as CI runs it: the static checks (tsc over both tsconfigs: the Electron main process and
// the renderer are type-checked nowhere else; ESLint over the whole tree), every unit and GPU test on SwiftShader
// (f32 kernel path), the GPU tests again on Mesa lavapipe where it is installed (shader-f16: the f16 path), then
// the end-to-end tests.
// Ends with one line `N passed, N failed` summed over every run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const outDir = mkdtempSync(join(tmpdir(), 'kvchat-test-'));

let passed = 0;
let failed = 0;
let skipped = 0;

function run(label, args, env) {
  const report = join(outDir, `${label}.json`);
  console.log(`\n=== ${label} ===`);
  const r = spawnSync(process.execPath, [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  let p = 0;
  let f = 0;
  let s = 0;
  if (existsSync(report)) {
    const j = JSON.parse(readFileSync(report, 'utf8'));
    p = j.numPassedTests;
    f = j.numFailedTests;
    s = j.numPendingTests + j.numTodoTests;
  }
  // A crashed worker or a file that failed to load fails the run even if no single test is marked failed.
  if (r.status !== 0 && f === 0) f = 1;
  console.log(`${label}: ${p} passed, ${f} failed, ${s} skipped`);
  passed += p;
  failed += f;
  skipped += s;
}

/** A static check counts as one test: passed when the command exits 0. */
function check(label, args) {
  console.log(`\n=== ${label} ===`);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  const ok = r.status === 0;
  console.log(`${label}: ${ok ? 'passed' : 'FAILED'}`);
  if (ok) passed++;
  else failed++;
}

// System packages (Chromium's SwiftShader, the Vulkan loader, lavapipe) on Debian; a no-op once installed.
if (process.platform === 'linux' && process.env.KVCHAT_SKIP_SYSTEM_DEPS !== '1') {
  spawnSync('bash', [join(root, 'scripts', 'install-system-deps.sh')], { stdio: 'inherit' });
}

const only = process.argv.slice(2);
const wants = (name) => only.length === 0 || only.includes(name);

if (wants('static')) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  check('tsc (Node: main, preload, cli, server, store, node, gpu, tests, bench)', [tsc, '-p', 'tsconfig.node.json', '--noEmit']);
  check('tsc (renderer)', [tsc, '-p', 'tsconfig.web.json', '--noEmit']);
  check('eslint', [join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '.', '--max-warnings', '0']);
}
if (wants('unit')) run('unit+gpu (SwiftShader, f32 path)', [], { VK_ICD_FILENAMES: SWIFTSHADER });
if (wants('f16')) {
  if (existsSync(LAVAPIPE)) run('gpu (lavapipe, f16 path)', ['.gpu.test.ts'], { VK_ICD_FILENAMES: LAVAPIPE });
  else console.log(`\n(skipping the f16 run: ${LAVAPIPE} not installed; scripts/install-system-deps.sh installs it)`);
}
if (wants('e2e') && existsSync(join(root, 'tests', 'e2e')) && readdirSync(join(root, 'tests', 'e2e')).some((f) => f.endsWith('.test.ts'))) {
  run('e2e (Chromium)', ['--config', 'tests/e2e/vitest.config.ts'], { VK_ICD_FILENAMES: SWIFTSHADER });
}

console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
