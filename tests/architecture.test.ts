// The layers of ARCHITECTURE.md, arrows pointing down only. The engine runs unchanged in the renderer and in Node:
// src/gpu may import nothing from Electron, Node, React, main or renderer. The renderer reaches main only through
// the preload API. Front ends (main, cli, renderer, bench) import none of each other; what they share lives in
// src/server, src/store (SQLite, no Electron) and src/node (file sources, the Dawn device, fingerprints).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.(ts|tsx|wgsl)$/.test(name) ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g)];
  return specs.map((m) => m[1] ?? m[2] ?? m[3]!);
}

const NODE_BUILTINS = new Set(['fs', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'url', 'util', 'stream', 'worker_threads', 'buffer', 'events', 'zlib']);

function violations(dir: string, forbidden: (spec: string, file: string) => boolean): string[] {
  return sourceFiles(join(root, dir)).flatMap((f) =>
    imports(f)
      .filter((s) => forbidden(s, f))
      .map((s) => `${relative(root, f)} imports ${s}`),
  );
}

const resolvesInto = (spec: string, file: string, area: string): boolean =>
  spec.startsWith('.') && relative(join(root, area), resolve(file, '..', spec)).split(/[\\/]/)[0] !== '..';

describe('layering', () => {
  it('src/gpu imports no Electron, Node built-ins, React, main or renderer', () => {
    const bad = violations('src/gpu', (s, f) =>
      s === 'electron' ||
      s.startsWith('node:') ||
      NODE_BUILTINS.has(s) ||
      s === 'react' ||
      s.startsWith('react-dom') ||
      s === 'webgpu' ||
      ['src/main', 'src/renderer', 'src/preload', 'src/cli'].some((area) => resolvesInto(s, f, area)),
    );
    expect(bad).toEqual([]);
  });

  it('src/renderer never imports Electron, Node or main', () => {
    const bad = violations('src/renderer', (s, f) =>
      s === 'electron' || s.startsWith('node:') || NODE_BUILTINS.has(s) || resolvesInto(s, f, 'src/main') || resolvesInto(s, f, 'src/cli'),
    );
    expect(bad).toEqual([]);
  });

  it('src/shared has no runtime dependencies', () => {
    const bad = violations('src/shared', (s) => !s.startsWith('.') && s !== 'zod');
    expect(bad).toEqual([]);
  });

  const FRONT_ENDS = ['src/main', 'src/cli', 'src/renderer', 'src/preload'];

  it('src/node imports no Electron, no front end, no server and no store', () => {
    const bad = violations('src/node', (s, f) => s === 'electron' || [...FRONT_ENDS, 'src/server', 'src/store'].some((area) => resolvesInto(s, f, area)));
    expect(bad).toEqual([]);
  });

  it('src/store imports no Electron, no front end and no server', () => {
    const bad = violations('src/store', (s, f) => s === 'electron' || [...FRONT_ENDS, 'src/server'].some((area) => resolvesInto(s, f, area)));
    expect(bad).toEqual([]);
  });

  it('src/server imports no Electron and no front end', () => {
    const bad = violations('src/server', (s, f) => s === 'electron' || FRONT_ENDS.some((area) => resolvesInto(s, f, area)));
    expect(bad).toEqual([]);
  });

  it('no front end imports another; bench and the test helpers import none (main and cli are nobody\'s library)', () => {
    const others = (self: string) => (s: string, f: string): boolean => ['src/main', 'src/cli', 'src/renderer'].filter((a) => a !== self).some((area) => resolvesInto(s, f, area));
    const bad = [
      ...violations('src/main', others('src/main')),
      ...violations('src/cli', others('src/cli')),
      ...violations('src/renderer', others('src/renderer')),
      // bench/ measures the renderer's Markdown view as tests do (bench/render-page.ts), never main or the CLI.
      ...violations('bench', others('src/renderer')),
      ...violations('tests/helpers', others('')),
    ];
    expect(bad).toEqual([]);
  });

  it('the checker catches a forbidden import', () => {
    expect(imports(join(root, 'tests/architecture.test.ts'))).toContain('node:fs');
  });
});
