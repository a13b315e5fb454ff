#!/usr/bin/env node
// better-sqlite3 is a native addon and Node and Electron have different ABIs. The Node build stays in
// node_modules (tests, CLI); the Electron build goes to .native/electron-<version>/ and the main process
// loads it through better-sqlite3's `nativeBinding` option. So `npm test` and `npm start` both work with no
// manual rebuild, in either order. A packaged app gets its Electron build from electron-builder instead.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

export function electronVersion() {
  return require('electron/package.json').version;
}

export function electronBindingPath(version = electronVersion()) {
  return join(root, '.native', `electron-${version}`, 'better_sqlite3.node');
}

function buildForElectron() {
  const version = electronVersion();
  const target = electronBindingPath(version);
  if (existsSync(target)) return target;
  const work = join(root, '.native', `build-electron-${version}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const pkgDir = dirname(require.resolve('better-sqlite3/package.json'));
  cpSync(pkgDir, work, { recursive: true, filter: (src) => !src.includes(`${pkgDir}/build`) });
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  console.log(`native-deps: building better-sqlite3 for Electron ${version}...`);
  try {
    execFileSync(bin('prebuild-install'), ['--runtime=electron', `--target=${version}`], { cwd: work, stdio: 'inherit' });
  } catch {
    execFileSync(
      process.execPath,
      [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', '--release', `--target=${version}`, '--dist-url=https://electronjs.org/headers'],
      { cwd: work, stdio: 'inherit' },
    );
  }
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(work, 'build', 'Release', 'better_sqlite3.node'), target);
  rmSync(work, { recursive: true, force: true });
  return target;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const which = process.argv[2];
  if (which !== 'electron') {
    console.error('usage: native-deps.mjs electron');
    process.exit(2);
  }
  try {
    console.log(`native-deps: Electron build of better-sqlite3 at ${buildForElectron()}`);
  } catch (e) {
    console.error(`native-deps: could not build better-sqlite3 for Electron (${e.message}). Check the internet connection and a C++ toolchain (python3, make, g++).`);
    process.exit(1);
  }
}
