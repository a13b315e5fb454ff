#!/usr/bin/env node
// `npm run dist [-- --linux|--win|--mac] [more electron-builder flags]`: builds the app with electron-vite, then the
// installers with electron-builder (electron-builder.yml) for the current OS unless a platform flag is given.
// Output: dist/. `--check` only checks what the build needs (Electron's binary, the files extraResources names)
// and exits; the tests use it.
//
// electron-builder packages the Electron binary, which comes from Electron's GitHub release: `npm install` puts it
// in node_modules/electron/dist, and electron-builder fetches the release zip for each target arch. Where that
// download was impossible (no internet, or ELECTRON_SKIP_BINARY_DOWNLOAD=1 as in .ci/run), this script stops at
// once with one sentence instead of failing halfway through a build.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

export const ELECTRON_MISSING =
  "Electron's binary could not be downloaded (no access to its GitHub release), so installers cannot be built on this machine.";

/** Where the electron package says its binary is (the same rule as node_modules/electron/index.js), or null. */
export function electronBinaryPath() {
  let pkgDir;
  try {
    pkgDir = dirname(require.resolve('electron/package.json'));
  } catch {
    return null;
  }
  const pathFile = join(pkgDir, 'path.txt');
  const executable = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH) return join(process.env.ELECTRON_OVERRIDE_DIST_PATH, executable || 'electron');
  // path.txt is written by electron's install script only after the binary was downloaded and unpacked.
  return executable ? join(pkgDir, 'dist', executable) : null;
}

export function electronBinaryAvailable() {
  const p = electronBinaryPath();
  return p !== null && existsSync(p);
}

/** extraResources sources in electron-builder.yml that are missing (electron-builder would skip them silently). */
export function missingExtraResources() {
  const config = parse(readFileSync(join(root, 'electron-builder.yml'), 'utf8'));
  const entries = [config.extraResources ?? []].flat();
  return entries
    .map((e) => (typeof e === 'string' ? e : e.from))
    .filter((from) => typeof from === 'string' && !/[*?{]/.test(from) && !existsSync(join(root, from)));
}

const PLATFORM_FLAGS = { linux: '--linux', win32: '--win', darwin: '--mac' };

function binOf(pkg, name) {
  const dir = dirname(require.resolve(`${pkg}/package.json`));
  const bin = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).bin;
  return join(dir, typeof bin === 'string' ? bin : bin[name]);
}

function run(script, args) {
  const r = spawnSync(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function main(argv) {
  if (!electronBinaryAvailable()) {
    console.error(ELECTRON_MISSING);
    return 1;
  }
  const missing = missingExtraResources();
  if (missing.length > 0) {
    console.error(`dist: ${missing.join(', ')} missing; the installers would ship without it.`);
    return 1;
  }
  if (argv.includes('--check')) {
    console.log(`dist: Electron binary at ${electronBinaryPath()}`);
    return 0;
  }

  const builderArgs = [...argv];
  if (!builderArgs.some((a) => ['--linux', '-l', '--win', '-w', '--windows', '--mac', '-m', '--macos'].includes(a))) {
    const flag = PLATFORM_FLAGS[process.platform];
    if (!flag) {
      console.error(`dist: no installer target for ${process.platform}; pass --linux, --win or --mac.`);
      return 2;
    }
    builderArgs.unshift(flag);
  }
  if (!builderArgs.some((a) => a === '--publish' || a === '-p' || a.startsWith('--publish='))) builderArgs.push('--publish', 'never');

  const viteStatus = run(binOf('electron-vite', 'electron-vite'), ['build']);
  if (viteStatus !== 0) return viteStatus;

  // electron-builder rebuilds better-sqlite3 for Electron inside node_modules; put the Node build back afterwards
  // (also when the build fails) so `npm test` and the CLI keep working. The Electron build `npm start` uses lives
  // in .native/ and is not touched.
  let nodeBuild = null;
  try {
    nodeBuild = join(dirname(require.resolve('better-sqlite3/package.json')), 'build');
  } catch {
    // not installed: electron-builder will say so
  }
  const backupDir = mkdtempSync(join(tmpdir(), 'kvchat-dist-'));
  const backup = join(backupDir, 'build');
  const haveBackup = nodeBuild !== null && existsSync(nodeBuild);
  if (haveBackup) cpSync(nodeBuild, backup, { recursive: true });
  try {
    return run(binOf('electron-builder', 'electron-builder'), ['--config', 'electron-builder.yml', ...builderArgs]);
  } finally {
    if (haveBackup) {
      rmSync(nodeBuild, { recursive: true, force: true });
      cpSync(backup, nodeBuild, { recursive: true });
    }
    rmSync(backupDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(main(process.argv.slice(2)));
}
