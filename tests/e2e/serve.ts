// Manual use: builds the renderer and serves it with the test host on a fixed port, until Ctrl+C.
//   npx tsx tests/e2e/serve.ts [port] [dataDir]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRenderer } from './build';
import { startHost } from './host';

async function main(): Promise<void> {
  const staticDir = join(tmpdir(), 'kvchat-renderer');
  await buildRenderer(staticDir);
  const host = await startHost({ staticDir, dataDir: process.argv[3] ?? mkdtempSync(join(tmpdir(), 'kvchat-data-')), port: Number(process.argv[2] ?? 5273) });
  console.log(`KVChat test host at ${host.url}`);
}

void main();
