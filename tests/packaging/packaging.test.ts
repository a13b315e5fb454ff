// Packaging: electron-builder.yml ships every file the app loads at run time, unpacks the native module, has icons
// each OS accepts, registers .gguf; the data-folder and open-file helpers; scripts/dist.mjs without Electron's
// binary; the release workflows. Nothing here builds an installer or downloads anything.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { FuseV1Options, FuseVersion, getCurrentFuseWire } from '@electron/fuses';
import type { App } from 'electron';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ggufPathsFromArgv, installOpenFileHandlers } from '../../src/main/open-file';
import { appDataPaths, bundledModelPath, DATABASE_FILE, dataPaths, DEFAULT_MODEL_FILE } from '../../src/main/paths';
import { RENDERER_ENTRY_URL } from '../../src/main/renderer-protocol';
import afterPack, { fuseConfig, KVCHAT_FUSES, packagedExecutable } from '../../scripts/after-pack.mjs';

const root = resolve(__dirname, '../..');
const read = (rel: string): string => readFileSync(join(root, rel), 'utf8');

type FileSet = string | { from?: string; to?: string; filter?: string | string[] };
interface TargetConfig {
  target: string;
  arch?: string | string[];
}
interface PlatformConfig {
  target?: string | (string | TargetConfig)[];
  icon?: string;
  [key: string]: unknown;
}
interface BuilderConfig {
  appId?: string;
  productName?: string;
  directories?: { output?: string; buildResources?: string };
  files?: FileSet[];
  extraResources?: FileSet[];
  asar?: boolean;
  asarUnpack?: string | string[];
  npmRebuild?: boolean;
  buildDependenciesFromSource?: boolean;
  fileAssociations?: { ext: string | string[]; name?: string; mimeType?: string }[];
  linux?: PlatformConfig;
  win?: PlatformConfig;
  mac?: PlatformConfig;
  [key: string]: unknown;
}

const config = parse(read('electron-builder.yml')) as BuilderConfig;
const pkg = JSON.parse(read('package.json')) as { main: string; productName: string; scripts: Record<string, string> };

// ---- glob matching with electron-builder's (minimatch) semantics for the patterns used here ----

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // `**` spans folders; `a/**/b` also matches `a/b`, a trailing `/**` matches everything under the folder.
      i++;
      if (glob[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const end = glob.indexOf('}', i);
      re += `(?:${glob
        .slice(i + 1, end)
        .split(',')
        .map((s) => s.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
        .join('|')})`;
      i = end;
    } else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const matches = (glob: string, path: string): boolean => globToRegExp(glob).test(path);

/** Later patterns override earlier ones; `!` excludes. */
function selectedBy(patterns: readonly string[], path: string): boolean {
  let selected = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (matches(p.slice(1), path)) selected = false;
    } else if (matches(p, path)) selected = true;
  }
  return selected;
}

const filePatterns = (): string[] => (config.files ?? []).filter((f): f is string => typeof f === 'string');

/** A project file is in the app when the `files` patterns select it (package.json is always added). */
const inApp = (path: string): boolean => path === 'package.json' || selectedBy(filePatterns(), path);

/** node_modules of production dependencies are always copied; only `!` patterns in `files` remove from them. */
const nodeModuleInApp = (path: string): boolean => !filePatterns().some((p) => p.startsWith('!') && matches(p.slice(1), path));

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function targets(platform: PlatformConfig | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of asArray(platform?.target)) {
    if (typeof t === 'string') out.set(t, []);
    else out.set(t.target, asArray(t.arch));
  }
  return out;
}

// ---- image headers ----

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngInfo(buf: Buffer): { width: number; height: number; colorType: number; pixels: Buffer } {
  expect(buf.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  expect(buf.toString('latin1', 12, 16)).toBe('IHDR');
  const idat: Buffer[] = [];
  for (let off = 8; off < buf.length; ) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (type === 'IDAT') idat.push(buf.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20), colorType: buf[25]!, pixels: inflateSync(Buffer.concat(idat)) };
}

interface IcoImage {
  size: number;
  format: 'png' | 'bmp';
  /** Decoded content to compare: inflated PNG scanlines, or the bitmap bytes. */
  content: Buffer;
}

function icoImages(buf: Buffer): IcoImage[] {
  expect(buf.readUInt16LE(0)).toBe(0);
  expect(buf.readUInt16LE(2)).toBe(1); // 1 = icon
  const count = buf.readUInt16LE(4);
  const images: IcoImage[] = [];
  for (let i = 0; i < count; i++) {
    const e = 6 + 16 * i;
    const size = buf[e] || 256;
    expect(buf[e + 1] || 256).toBe(size);
    const data = buf.subarray(buf.readUInt32LE(e + 12), buf.readUInt32LE(e + 12) + buf.readUInt32LE(e + 8));
    if (data.subarray(0, 8).equals(PNG_SIGNATURE)) {
      const png = pngInfo(data);
      expect([png.width, png.height]).toEqual([size, size]);
      images.push({ size, format: 'png', content: png.pixels });
    } else {
      expect(data.readUInt32LE(0)).toBe(40); // BITMAPINFOHEADER
      expect(data.readInt32LE(4)).toBe(size);
      expect(data.readInt32LE(8)).toBe(size * 2); // colour bitmap + AND mask
      expect(data.readUInt16LE(14)).toBe(32);
      images.push({ size, format: 'bmp', content: data });
    }
  }
  return images;
}

const ICNS_PNG_SIZES: Record<string, number> = { icp4: 16, icp5: 32, icp6: 64, ic07: 128, ic08: 256, ic09: 512, ic10: 1024, ic11: 32, ic12: 64, ic13: 256, ic14: 512 };

function icnsImages(buf: Buffer): Map<string, Buffer> {
  expect(buf.toString('latin1', 0, 4)).toBe('icns');
  expect(buf.readUInt32BE(4)).toBe(buf.length);
  const out = new Map<string, Buffer>();
  for (let off = 8; off < buf.length; ) {
    const type = buf.toString('latin1', off, off + 4);
    const len = buf.readUInt32BE(off + 4);
    expect(len).toBeGreaterThan(8);
    const data = buf.subarray(off + 8, off + len);
    if (type in ICNS_PNG_SIZES) {
      const png = pngInfo(data);
      expect([type, png.width, png.height]).toEqual([type, ICNS_PNG_SIZES[type], ICNS_PNG_SIZES[type]]);
      out.set(type, png.pixels);
    }
    off += len;
  }
  return out;
}

const linuxIconDir = (): string => join(root, config.linux!.icon!);

function linuxIcons(dir: string): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const name of readdirSync(dir)) {
    const m = /^(\d+)x(\d+)\.png$/.exec(name);
    if (!m) continue;
    const png = pngInfo(readFileSync(join(dir, name)));
    expect([name, png.width, png.height, png.colorType]).toEqual([name, Number(m[1]), Number(m[2]), 6]);
    out.set(png.width, png.pixels);
  }
  return out;
}

// ---- tests ----

describe('electron-builder.yml', () => {
  it('names the app', () => {
    expect(config.appId).toBe('app.kvchat.desktop');
    expect(config.productName).toBe('KVChat');
    expect(pkg.productName).toBe(config.productName);
  });

  it('lists every installer target', () => {
    const linux = targets(config.linux);
    expect([...linux.keys()].map((t) => t.toLowerCase()).sort()).toEqual(['appimage', 'deb']);
    const win = targets(config.win);
    expect([...win.keys()]).toEqual(['nsis']);
    expect(win.get('nsis')).toEqual(expect.arrayContaining(['x64', 'arm64']));
    const mac = targets(config.mac);
    expect([...mac.keys()]).toEqual(['dmg']);
    const archs = mac.get('dmg')!;
    expect(archs.includes('universal') || (archs.includes('arm64') && archs.includes('x64'))).toBe(true);
  });

  it('packages every file the app loads at run time, and no sources', () => {
    // What main loads: package.json "main", and (src/main/window.ts) the preload and the renderer folder beside
    // it, whose index.html the window loads as app://kvchat/index.html (src/main/renderer-protocol.ts).
    expect(pkg.main.replace(/^\.\//, '')).toBe('out/main/index.js');
    const window = read('src/main/window.ts');
    expect(window).toContain("'../preload/index.cjs'");
    expect(window).toContain("join(__dirname, '../renderer')");
    expect(RENDERER_ENTRY_URL).toBe('app://kvchat/index.html');
    expect(read('electron.vite.config.ts')).toContain("entryFileNames: '[name].cjs'");
    for (const f of ['out/main/index.js', 'out/preload/index.cjs', 'out/renderer/index.html', 'out/renderer/assets/index-Dx1y2z3.js', 'package.json']) {
      expect([f, inApp(f)]).toEqual([f, true]);
    }
    for (const f of ['src/main/index.ts', 'src/gpu/kernels/matmul.wgsl', 'tests/packaging/packaging.test.ts', 'resources/icon.icns', '.native/electron-38/better_sqlite3.node', 'out/main/index.js.map']) {
      expect([f, inApp(f)]).toEqual([f, false]);
    }
  });

  it('ships better-sqlite3 with its binary unpacked from the asar', () => {
    expect(config.asar).not.toBe(false);
    const binary = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
    for (const f of [binary, 'node_modules/better-sqlite3/lib/index.js', 'node_modules/better-sqlite3/package.json', 'node_modules/bindings/bindings.js']) {
      expect([f, nodeModuleInApp(f)]).toEqual([f, true]);
    }
    expect(asArray(config.asarUnpack).some((p) => matches(p, binary))).toBe(true);
    expect(asArray(config.asarUnpack)).toContain('node_modules/better-sqlite3/**/*.node');
    // Rebuilt for Electron's ABI at package time.
    expect(config.npmRebuild).not.toBe(false);
    expect(typeof config.buildDependenciesFromSource).toBe('boolean');
    expect((JSON.parse(read('package.json')) as { dependencies: Record<string, string> }).dependencies).toHaveProperty('better-sqlite3');
  });

  it('copies the default model into the resources folder where main looks for it', () => {
    const entries = (config.extraResources ?? []).filter((e): e is { from: string; to: string } => typeof e === 'object' && e.from !== undefined);
    const model = entries.find((e) => e.from === `resources/models/${DEFAULT_MODEL_FILE}`);
    expect(model).toBeDefined();
    expect(bundledModelPath({ isPackaged: true, resourcesPath: '/opt/KVChat/resources', appPath: '/x' })).toBe(join('/opt/KVChat/resources', model!.to));
    expect(bundledModelPath({ isPackaged: false, resourcesPath: '/x', appPath: root })).toBe(join(root, model!.from));
  });

  // The model file itself is added separately; scripts/dist.mjs refuses to build without it.
  it.skipIf(!existsSync(join(root, 'resources/models', DEFAULT_MODEL_FILE)))('the default model is a GGUF file', () => {
    expect(readFileSync(join(root, 'resources/models', DEFAULT_MODEL_FILE)).toString('latin1', 0, 4)).toBe('GGUF');
  });

  it('registers .gguf files', () => {
    const gguf = (config.fileAssociations ?? []).find((a) => asArray(a.ext).map((e) => e.replace(/^\./, '')).includes('gguf'));
    expect(gguf).toBeDefined();
    expect(gguf!.name).toBeTruthy();
    expect(gguf!.mimeType).toMatch(/^application\//); // Linux needs one for its .desktop MimeType
  });

  it('sets an icon for every platform, in its build resources', () => {
    expect(config.directories?.buildResources).toBe('resources');
    expect(statSync(linuxIconDir()).isDirectory()).toBe(true);
    expect(existsSync(join(root, config.win!.icon!))).toBe(true);
    expect(existsSync(join(root, config.mac!.icon!))).toBe(true);
  });
});

describe('icons', () => {
  it('Linux: PNGs named by size, up to at least 512 px', () => {
    const sizes = [...linuxIcons(linuxIconDir()).keys()].sort((a, b) => a - b);
    expect(sizes).toEqual(expect.arrayContaining([16, 32, 48, 64, 128, 256, 512]));
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(512);
  });

  it('Windows: an .ico with 16, 32, 48 and 256 px images', () => {
    const images = icoImages(readFileSync(join(root, config.win!.icon!)));
    expect(images.map((i) => i.size)).toEqual(expect.arrayContaining([16, 32, 48, 256]));
    expect(Math.max(...images.map((i) => i.size))).toBe(256); // electron-builder's minimum
  });

  it('macOS: an .icns with PNG images up to 512@2x (1024 px)', () => {
    const images = icnsImages(readFileSync(join(root, config.mac!.icon!)));
    expect([...images.keys()]).toEqual(expect.arrayContaining(['ic07', 'ic08', 'ic09', 'ic10']));
  });

  it('are what scripts/make-icons.mjs draws', () => {
    const out = mkdtempSync(join(tmpdir(), 'kvchat-icons-'));
    try {
      const r = spawnSync(process.execPath, [join(root, 'scripts/make-icons.mjs'), '--out', out], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      // Compare decoded pixels (deflate output may differ between zlib versions).
      const fresh = linuxIcons(join(out, 'icons'));
      const committed = linuxIcons(linuxIconDir());
      expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
      for (const [size, pixels] of fresh) expect([size, pixels.equals(committed.get(size)!)]).toEqual([size, true]);
      const ico = icoImages(readFileSync(join(out, 'icon.ico')));
      const committedIco = icoImages(readFileSync(join(root, config.win!.icon!)));
      expect(committedIco.map((i) => [i.size, i.format])).toEqual(ico.map((i) => [i.size, i.format]));
      ico.forEach((img, k) => expect([img.size, img.content.equals(committedIco[k]!.content)]).toEqual([img.size, true]));
      const icns = icnsImages(readFileSync(join(out, 'icon.icns')));
      const committedIcns = icnsImages(readFileSync(join(root, config.mac!.icon!)));
      expect([...committedIcns.keys()]).toEqual([...icns.keys()]);
      for (const [type, pixels] of icns) expect([type, pixels.equals(committedIcns.get(type)!)]).toEqual([type, true]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('WGSL kernels are bundled into the JS, not read from disk', () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? sources(p) : /\.(ts|tsx|mts)$/.test(name) ? [p] : [];
    });
  const RAW_IMPORT = /^\s*import\s+\w+\s+from\s+['"]([^'"]+\.wgsl)\?raw['"]/gm;
  const rawImporters = sources(join(root, 'src')).filter((f) => [...readFileSync(f, 'utf8').matchAll(RAW_IMPORT)].length > 0);

  it('every .wgsl reference in src is a ?raw import', () => {
    const bad: string[] = [];
    for (const f of sources(join(root, 'src'))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(['"`])([^'"`\n]*\.wgsl(?:\?[a-z]+)?)\1/g)) {
        if (!m[2]!.endsWith('.wgsl?raw')) bad.push(`${relative(root, f)}: ${m[2]}`);
      }
    }
    expect(bad).toEqual([]);
    expect(rawImporters.length).toBeGreaterThan(0);
  });

  it("Vite's build inlines each imported kernel as a string and emits no .wgsl file", async () => {
    const { build } = await import('vite');
    const input = Object.fromEntries(rawImporters.map((f, i) => [`k${i}`, f]));
    const result = await build({
      configFile: false,
      root,
      logLevel: 'silent',
      build: { write: false, minify: false, emptyOutDir: false, rollupOptions: { input, preserveEntrySignatures: 'strict' } },
    });
    const outputs = (Array.isArray(result) ? result : [result]) as { output: { fileName: string; type: string; code?: string }[] }[];
    const files = outputs.flatMap((o) => o.output);
    expect(files.filter((f) => /\.wgsl/.test(f.fileName))).toEqual([]);
    const js = files.map((f) => f.code ?? '').join('\n');
    const imported = new Set(
      rawImporters.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(RAW_IMPORT)].map((m) => resolve(dirname(f), m[1]!))),
    );
    for (const wgsl of imported) {
      // The longest line a JS string literal keeps verbatim.
      const line = readFileSync(wgsl, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => !/["'`\\$]/.test(l))
        .sort((a, b) => b.length - a.length)[0]!;
      expect([relative(root, wgsl), js.includes(line)]).toEqual([relative(root, wgsl), true]);
    }
  });
});

describe('dataPaths', () => {
  it('puts the database and models under the user-data folder', () => {
    const base = '/home/ada/.config/KVChat';
    const p = dataPaths(base);
    expect(p).toEqual({ userData: base, models: join(base, 'models'), database: join(base, 'kvchat.sqlite') });
    for (const q of [p.models, p.database]) expect(relative(base, q).startsWith('..')).toBe(false);
  });

  it('keeps one database file name across versions', () => {
    expect(DATABASE_FILE).toBe('kvchat.sqlite');
    expect(dataPaths('/u').database).toBe(dataPaths('/u').database);
  });

  it('refuses a relative or empty folder (data never lands beside the executable or the working directory)', () => {
    expect(() => dataPaths('')).toThrow(/absolute/);
    expect(() => dataPaths('data')).toThrow(/absolute/);
    expect(() => dataPaths('./KVChat')).toThrow(/absolute/);
  });

  it("derives from Electron's userData path", () => {
    const asked: string[] = [];
    const app = { getPath: (name: string) => (asked.push(name), '/Users/ada/Library/Application Support/KVChat') } as unknown as Pick<App, 'getPath'>;
    expect(appDataPaths(app).database).toBe(join('/Users/ada/Library/Application Support/KVChat', 'kvchat.sqlite'));
    expect(asked).toEqual(['userData']);
  });
});

describe('ggufPathsFromArgv', () => {
  it('takes .gguf paths from a packaged launch', () => {
    expect(ggufPathsFromArgv(['/opt/KVChat/kvchat', '/home/ada/models/llama.gguf'])).toEqual(['/home/ada/models/llama.gguf']);
    expect(ggufPathsFromArgv(['C:\\Program Files\\KVChat\\KVChat.exe', 'D:\\models\\Qwen2.5-0.5B.Q4_K_M.GGUF'])).toEqual(['D:\\models\\Qwen2.5-0.5B.Q4_K_M.GGUF']);
  });

  it('skips the executable, the app path and switches', () => {
    expect(ggufPathsFromArgv(['electron', '.', '--enable-features=Vulkan', '--open=x.gguf', '-psn_0_12345', '--allow-file-access-from-files'])).toEqual([]);
  });

  it('skips other files', () => {
    expect(ggufPathsFromArgv(['/x/kvchat', '/tmp/readme.txt', '/tmp/model.bin', '/tmp/model.gguf.part', '/tmp/gguf'])).toEqual([]);
  });

  it('turns file:// URLs into paths', () => {
    expect(ggufPathsFromArgv(['kvchat', pathToFileURL('/home/ada/My Models/tiny.gguf').href])).toEqual(['/home/ada/My Models/tiny.gguf']);
    expect(ggufPathsFromArgv(['kvchat', 'file://remote-host/share/x.gguf'])).toEqual([]);
  });

  it('resolves relative paths against the given working directory, and drops duplicates', () => {
    expect(ggufPathsFromArgv(['kvchat', 'a.gguf', 'sub/b.gguf', '/abs/c.gguf', 'a.gguf'], '/work')).toEqual(['/work/a.gguf', '/work/sub/b.gguf', '/abs/c.gguf']);
    expect(ggufPathsFromArgv(['kvchat', 'a.gguf'])).toEqual(['a.gguf']);
  });
});

describe('installOpenFileHandlers', () => {
  class FakeApp extends EventEmitter {
    constructor(private readonly lock: boolean) {
      super();
    }
    requestSingleInstanceLock(): boolean {
      return this.lock;
    }
  }
  const asApp = (a: FakeApp): Pick<App, 'requestSingleInstanceLock' | 'on'> => a as unknown as Pick<App, 'requestSingleInstanceLock' | 'on'>;

  it('a second instance registers nothing and reports it should quit', () => {
    const app = new FakeApp(false);
    const h = installOpenFileHandlers(asApp(app), ['kvchat', '/m/a.gguf'], '/');
    expect(h.primary).toBe(false);
    expect(app.eventNames()).toEqual([]);
  });

  it('queues launch argv and macOS open-file until main takes them, then delivers at once', () => {
    const app = new FakeApp(true);
    const h = installOpenFileHandlers(asApp(app), ['kvchat', '/m/a.gguf'], '/');
    expect(h.primary).toBe(true);
    let prevented = 0;
    app.emit('open-file', { preventDefault: () => prevented++ }, '/m/b.gguf');
    app.emit('open-file', { preventDefault: () => prevented++ }, '/m/notes.txt');
    expect(prevented).toBe(2);
    const got: string[][] = [];
    h.onOpenFiles((paths) => got.push(paths));
    expect(got).toEqual([['/m/a.gguf', '/m/b.gguf']]);
    app.emit('open-file', { preventDefault: () => prevented++ }, '/m/c.gguf');
    expect(got).toEqual([['/m/a.gguf', '/m/b.gguf'], ['/m/c.gguf']]);
  });

  it("takes a second launch's argv relative to its working directory and asks for the window", () => {
    const app = new FakeApp(true);
    const h = installOpenFileHandlers(asApp(app), ['kvchat'], '/');
    const got: string[][] = [];
    let raised = 0;
    h.onOpenFiles((paths) => got.push(paths));
    h.onSecondInstance(() => raised++);
    app.emit('second-instance', {}, ['C:\\KVChat\\KVChat.exe', '--flag', 'models/x.gguf'], '/home/ada');
    app.emit('second-instance', {}, ['kvchat'], '/home/ada');
    expect(got).toEqual([['/home/ada/models/x.gguf']]);
    expect(raised).toBe(2);
  });
});

describe('Electron fuses: the afterPack hook (scripts/after-pack.mjs)', () => {
  // @electron/fuses's wire format: the sentinel, the wire version (1), its length, then one byte a fuse.
  const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
  const [OFF, ON] = [0x30, 0x31];
  // Electron 38's defaults, in FuseV1Options order: RunAsNode on, cookie encryption off, NODE_OPTIONS on, inspect
  // on, asar integrity off, only-asar off, browser V8 snapshot off, file:// extra privileges on.
  const ELECTRON_DEFAULTS = [ON, OFF, ON, ON, OFF, OFF, OFF, ON];
  const linuxContext = (appOutDir: string) => ({ appOutDir, electronPlatformName: 'linux', arch: 1, packager: { appInfo: { productFilename: 'KVChat' }, executableName: 'kvchat' } });

  it('electron-builder.yml runs it after packing, and sets no fuses of its own', () => {
    expect(config.afterPack).toBe('./scripts/after-pack.mjs');
    expect(existsSync(join(root, config.afterPack as string))).toBe(true);
    expect(config.electronFuses).toBeUndefined();
    const manifest = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(manifest.devDependencies).toHaveProperty('@electron/fuses');
    expect(manifest.dependencies).not.toHaveProperty('@electron/fuses');
  });

  it('electron-builder finds the hook the way it loads hooks', () => {
    // In a plain Node process, as electron-builder runs it from scripts/dist.mjs (working directory: the root).
    const script = `require('app-builder-lib/out/util/resolve').resolveFunction(undefined, ${JSON.stringify(config.afterPack)}, 'afterPack', process.cwd())
      .then((f) => console.log(typeof f, f.name))`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('function afterPack');
  });

  it('sets exactly the listed fuses', () => {
    expect(KVCHAT_FUSES).toEqual({
      RunAsNode: false,
      EnableCookieEncryption: true,
      EnableNodeOptionsEnvironmentVariable: false,
      EnableNodeCliInspectArguments: false,
      EnableEmbeddedAsarIntegrityValidation: true,
      OnlyLoadAppFromAsar: true,
    });
    const { version, resetAdHocDarwinSignature, ...wire } = fuseConfig('linux', 'x64') as unknown as Record<string, unknown>;
    expect(version).toBe(FuseVersion.V1);
    expect(resetAdHocDarwinSignature).toBe(false);
    expect(wire).toEqual({
      [FuseV1Options.RunAsNode]: false,
      [FuseV1Options.EnableCookieEncryption]: true,
      [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
      [FuseV1Options.EnableNodeCliInspectArguments]: false,
      [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
      [FuseV1Options.OnlyLoadAppFromAsar]: true,
    });
    // Apple Silicon needs a fresh ad-hoc signature on the modified binary; nothing else does.
    expect(fuseConfig('darwin', 'arm64').resetAdHocDarwinSignature).toBe(true);
    expect(fuseConfig('darwin', 'x64').resetAdHocDarwinSignature).toBe(false);
    expect(fuseConfig('win32', 'arm64').resetAdHocDarwinSignature).toBe(false);
  });

  it('names the packaged executable of each platform', () => {
    const packager = { appInfo: { productFilename: 'KVChat' }, executableName: 'kvchat' };
    const at = (electronPlatformName: string) => packagedExecutable({ appOutDir: '/out', electronPlatformName, arch: 1, packager });
    expect(at('linux')).toBe(join('/out', 'kvchat'));
    expect(at('win32')).toBe(join('/out', 'KVChat.exe'));
    expect(at('darwin')).toBe(join('/out', 'KVChat.app'));
    expect(() => at('aix')).toThrow(/aix/);
  });

  it('flips those fuses, and only those, in a stand-in Electron binary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvchat-fuses-'));
    try {
      const exe = join(dir, 'kvchat');
      const filler = Buffer.alloc(4096, 0xab);
      writeFileSync(exe, Buffer.concat([filler, Buffer.from(SENTINEL, 'latin1'), Buffer.from([1, ELECTRON_DEFAULTS.length, ...ELECTRON_DEFAULTS]), filler]));
      await afterPack(linuxContext(dir));
      const wire = await getCurrentFuseWire(exe);
      const states = ELECTRON_DEFAULTS.map((_, i) => (wire as unknown as Record<number, number>)[i]);
      expect(states).toEqual([OFF, ON, OFF, OFF, ON, ON, /* untouched: */ OFF, ON]);
      const bytes = readFileSync(exe);
      expect(bytes.length).toBe(2 * filler.length + SENTINEL.length + 2 + ELECTRON_DEFAULTS.length);
      expect(bytes.subarray(0, filler.length).equals(filler)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the build, naming the problem, when the executable has no fuse wire', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvchat-fuses-'));
    try {
      writeFileSync(join(dir, 'kvchat'), Buffer.alloc(1024));
      await expect(afterPack(linuxContext(dir))).rejects.toThrow(/sentinel/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scripts/dist.mjs', () => {
  const work = mkdtempSync(join(tmpdir(), 'kvchat-dist-test-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  // ELECTRON_OVERRIDE_DIST_PATH is how the electron package itself locates its binary; pointing it at a folder
  // decides whether "the binary" exists, whatever this machine has. Nothing is downloaded or built.
  const runDist = (distPath: string, args: string[] = []) =>
    spawnSync(process.execPath, [join(root, 'scripts/dist.mjs'), ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: distPath, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' },
    });

  it("without Electron's binary, exits non-zero with one sentence saying why", () => {
    const empty = join(work, 'no-electron');
    mkdirSync(empty);
    const r = runDist(empty);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      "Electron's binary could not be downloaded (no access to its GitHub release), so installers cannot be built on this machine.",
    );
    expect(r.stdout).toBe('');
  });

  it('with the binary, --check passes or names the missing default model, and builds nothing', () => {
    const dist = join(work, 'electron');
    const pathTxt = join(root, 'node_modules/electron/path.txt');
    const exe = existsSync(pathTxt) ? readFileSync(pathTxt, 'utf8').trim() : 'electron';
    mkdirSync(dirname(join(dist, exe)), { recursive: true });
    writeFileSync(join(dist, exe), '');
    const r = runDist(dist, ['--check']);
    if (existsSync(join(root, 'resources/models', DEFAULT_MODEL_FILE))) {
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(join(dist, exe));
    } else {
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`resources/models/${DEFAULT_MODEL_FILE}`);
    }
  });

  it('is what the npm scripts run', () => {
    expect(pkg.scripts.dist).toBe('node scripts/dist.mjs');
    expect(pkg.scripts['dist:linux']).toBe('node scripts/dist.mjs --linux');
    expect(pkg.scripts['dist:win']).toBe('node scripts/dist.mjs --win');
    expect(pkg.scripts['dist:mac']).toBe('node scripts/dist.mjs --mac');
    expect(pkg.scripts.icons).toBe('node scripts/make-icons.mjs');
  });
});

describe('GitHub workflows', () => {
  interface Step {
    run?: string;
    uses?: string;
    if?: string;
    with?: Record<string, unknown>;
  }
  interface Job {
    'runs-on'?: string;
    container?: unknown;
    strategy?: { matrix?: { os?: string[]; include?: { os: string }[] } };
    steps?: Step[];
    needs?: string | string[];
  }
  interface Workflow {
    on: Record<string, { tags?: string[]; branches?: string[] } | null>;
    jobs: Record<string, Job>;
  }
  const workflow = (name: string): Workflow => parse(read(`.github/workflows/${name}`)) as Workflow;
  const runs = (w: Workflow): string[] => Object.values(w.jobs).flatMap((j) => (j.steps ?? []).map((s) => s.run ?? ''));

  it('release: on v* tags, builds on all three OSes with the same npm scripts, tests on Debian, uploads installers', () => {
    const w = workflow('release.yml');
    expect(w.on.push?.tags).toEqual(['v*']);
    const oses = Object.values(w.jobs).flatMap((j) => [...(j.strategy?.matrix?.os ?? []), ...(j.strategy?.matrix?.include ?? []).map((i) => i.os)]);
    expect(oses).toEqual(expect.arrayContaining(['ubuntu-latest', 'windows-latest', 'macos-latest']));
    const commands = runs(w).join('\n');
    for (const c of ['npm ci', 'npm run typecheck', 'npm run dist', 'bash .ci/run']) expect(commands).toContain(c);
    const uses = Object.values(w.jobs).flatMap((j) => (j.steps ?? []).map((s) => s.uses ?? ''));
    expect(uses.some((u) => u.startsWith('actions/setup-node@'))).toBe(true);
    expect(uses.some((u) => u.startsWith('softprops/action-gh-release@'))).toBe(true);
  });

  it('ci: runs .ci/run on pushes and pull requests to main', () => {
    const w = workflow('ci.yml');
    expect(w.on.push?.branches).toEqual(['main']);
    expect(w.on.pull_request?.branches).toEqual(['main']);
    expect(runs(w).join('\n')).toContain('bash .ci/run');
  });
});
