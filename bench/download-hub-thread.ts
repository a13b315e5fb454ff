// The loopback Hub of bench/download.ts on its own thread, as a real Hub is another machine: the bench then measures
// the downloader against a plain read, not against the server's share of one event loop. Started by
// startHubThread(mib); answers its endpoint, and stops when the returned close() is called.
import { randomBytes } from 'node:crypto';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { startHubServer } from '../tests/helpers/hub-server';

export interface HubThread {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startHubThread(repo: string, path: string, mib: number): Promise<HubThread> {
  // The thread loads this TypeScript file through tsx's API (a worker does not inherit the --import hooks here).
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: { repo, path, mib } });
  const endpoint = await new Promise<string>((resolve, reject) => {
    worker.once('message', (m: { endpoint: string }) => resolve(m.endpoint));
    worker.once('error', reject);
  });
  return { endpoint, close: async () => void (await worker.terminate()) };
}

if (!isMainThread && (workerData as { mib?: number } | null)?.mib !== undefined) {
  const { repo, path, mib } = workerData as { repo: string; path: string; mib: number };
  const hub = await startHubServer({ [repo]: [{ path, bytes: randomBytes(mib * 2 ** 20) }] });
  parentPort!.postMessage({ endpoint: hub.endpoint });
}
