// llama.cpp through node-llama-cpp's prebuilt binaries (installed into bench/peer/node_modules on first use), behind
// the peer bench's interface. Typed by the few calls made here so the app's typecheck never needs the package.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { decodeTiming, type BenchEngine, type LoadedModel } from './types';

const PEER_DIR = fileURLToPath(new URL('.', import.meta.url));
const PACKAGE_DIR = join(PEER_DIR, 'node_modules', 'node-llama-cpp');

/** llama.cpp's batch (and micro-batch) in tokens: its default, and the size our engine is given too. */
export const PEER_BATCH_TOKENS = 512;
/** CPU threads: this machine has 2 cores; llama.cpp's default oversubscribes them and runs ~100x slower. */
export const PEER_THREADS = 2;

export class PeerUnavailableError extends Error {
  override readonly name = 'PeerUnavailableError';
}

interface NlcToken { readonly __brand?: 'token' }
interface NlcSequence {
  evaluate(tokens: NlcToken[], options: { temperature: number }): AsyncGenerator<NlcToken, void>;
  clearHistory(): Promise<void>;
  dispose(): void;
}
interface NlcContext { getSequence(): NlcSequence; dispose(): Promise<void> }
interface NlcModel {
  readonly gpuLayers: number;
  createContext(o: { contextSize: number; batchSize: number; threads: number; sequences: number }): Promise<NlcContext>;
  dispose(): Promise<void>;
}
interface NlcLlama {
  readonly gpu: string | false;
  readonly llamaCppRelease: { readonly repo: string; readonly release: string };
  getGpuDeviceNames(): Promise<string[]>;
  loadModel(o: { modelPath: string; gpuLayers: number | 'max' }): Promise<NlcModel>;
  dispose(): Promise<void>;
}
interface NlcModule {
  getLlama(o: { gpu: 'vulkan' | false; build: 'never'; logLevel: string; progressLogs: boolean }): Promise<NlcLlama>;
}

/** Installs node-llama-cpp into bench/peer from its lockfile (once), keeping the app's own install lean. */
export function ensurePeerInstalled(log: (s: string) => void): void {
  if (existsSync(join(PACKAGE_DIR, 'package.json'))) return;
  log('installing llama.cpp (node-llama-cpp) into bench/peer/node_modules (first use) ...');
  // Only this platform's prebuilt CPU and Vulkan binaries: --omit=optional drops the CUDA and other OS builds the
  // package lists as optional, and the package's postinstall (which would look for or build binaries) is skipped.
  const npm = (command: 'ci' | 'install') =>
    spawnSync('npm', [command, '--prefix', PEER_DIR, '--omit=optional', '--no-audit', '--no-fund'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
    });
  let r = npm('ci');
  // `npm ci` refuses a lockfile that lacks some platform's optional package (a registry mirror without the macOS or
  // Windows builds cannot record them); `npm install` then installs the same locked versions for this platform.
  if (r.status !== 0) {
    log('npm ci failed; trying npm install with the same lockfile ...');
    r = npm('install');
  }
  if (r.status !== 0 || !existsSync(join(PACKAGE_DIR, 'package.json'))) {
    throw new PeerUnavailableError(
      `could not install node-llama-cpp into ${PEER_DIR} (npm exited ${r.status ?? r.signal}${r.error ? `: ${r.error.message}` : ''}). ` +
        'It needs the npm registry once; run `npm install --prefix bench/peer --omit=optional` by hand to see why.',
    );
  }
}

export function peerPackageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string }).version;
}

export interface PeerInfo {
  readonly engine: 'llama.cpp';
  readonly binding: string;
  readonly backend: 'vulkan' | 'cpu';
  readonly version: string;
  readonly device: string;
}

export interface PeerEngine extends BenchEngine {
  readonly info: PeerInfo;
}

/** Opens llama.cpp on `backend` with prebuilt binaries only (never a source build). */
export async function llamaCppEngine(backend: 'vulkan' | 'cpu'): Promise<PeerEngine> {
  const mod = (await import(join(PACKAGE_DIR, 'dist', 'index.js'))) as NlcModule;
  let llama: NlcLlama;
  try {
    llama = await mod.getLlama({ gpu: backend === 'vulkan' ? 'vulkan' : false, build: 'never', logLevel: 'error', progressLogs: false });
  } catch (e) {
    throw new PeerUnavailableError(`llama.cpp's ${backend} backend did not start: ${(e as Error).message}`);
  }
  if (backend === 'vulkan' && llama.gpu !== 'vulkan') throw new PeerUnavailableError(`llama.cpp came up on ${String(llama.gpu)}, not Vulkan`);
  const names = backend === 'vulkan' ? await llama.getGpuDeviceNames() : [];
  if (backend === 'vulkan' && names.length === 0) throw new PeerUnavailableError('llama.cpp sees no Vulkan device (is GGML_VK_VISIBLE_DEVICES set for a CPU-type device?)');
  const info: PeerInfo = {
    engine: 'llama.cpp',
    binding: `node-llama-cpp ${peerPackageVersion()}`,
    backend,
    version: `${llama.llamaCppRelease.repo}@${llama.llamaCppRelease.release}`,
    device: backend === 'vulkan' ? names.join(', ') : `CPU, ${PEER_THREADS} threads`,
  };
  return {
    name: `llama.cpp-${backend}`,
    info,
    async load(path: string, contextSize: number): Promise<LoadedModel> {
      const model = await llama.loadModel({ modelPath: path, gpuLayers: backend === 'vulkan' ? 'max' : 0 });
      const context = await model.createContext({ contextSize, batchSize: Math.min(PEER_BATCH_TOKENS, contextSize), threads: PEER_THREADS, sequences: 1 });
      const sequence = context.getSequence();
      /** Greedy tokens after `prompt` on a cleared sequence; `onToken` returns false to stop. */
      const run = async (prompt: readonly number[], onToken: (t: number) => boolean): Promise<void> => {
        await sequence.clearHistory();
        for await (const t of sequence.evaluate([...prompt] as unknown as NlcToken[], { temperature: 0 })) {
          if (!onToken(t as number)) break;
        }
      };
      return {
        async prefillMs(prompt) {
          await sequence.clearHistory();
          const t0 = performance.now();
          for await (const t of sequence.evaluate([...prompt] as unknown as NlcToken[], { temperature: 0 })) {
            void t;
            break;
          }
          return performance.now() - t0;
        },
        async decode(prompt, steps) {
          const arrivals: number[] = [];
          await sequence.clearHistory();
          const t0 = performance.now();
          for await (const t of sequence.evaluate([...prompt] as unknown as NlcToken[], { temperature: 0 })) {
            void t;
            if (arrivals.push(performance.now()) > steps) break;
          }
          return decodeTiming(t0, arrivals);
        },
        async greedy(prompt, maxNew, stop) {
          const out: number[] = [];
          await run(prompt, (t) => out.push(t) < maxNew && !stop.has(t));
          return out;
        },
        async dispose() {
          sequence.dispose();
          await context.dispose();
          await model.dispose();
        },
      };
    },
    close: () => llama.dispose(),
  };
}
