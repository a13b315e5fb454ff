// npm run -s pull -- REPO[:QUANT] [--file NAME] [--revision REV] [--endpoint URL] [--dir DIR] [--json]
// Pulls a GGUF model from the Hugging Face Hub (or a mirror: --endpoint, else HF_ENDPOINT). QUANT matches a file's
// quantization case-insensitively (default Q4_K_M, else the smallest file the engine reads). The header is read
// first over Range and the engine's verdict printed; an unsupported model is not downloaded. The transfer resumes
// from `<file>.part` after a drop, Ctrl-C, a kill or a reboot, and the file is checked against the Hub's sha256.
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { HubClient, hubEndpoint } from '../node/hub/client';
import { downloadFile, PART_SUFFIX, type DownloadProgress, type DownloadResult } from '../node/hub/download';
import { parseModelRef, planPull } from '../node/hub/plan';
import { RateMeter } from '../node/hub/rate';
import { Args, runMain, UsageError } from './args';

const USAGE = `usage: npm run -s pull -- REPO[:QUANT] [--file NAME] [--revision REV] [--endpoint URL] [--dir DIR] [--json]
  REPO[:QUANT]    a Hub repository, e.g. bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M (QUANT: any case)
  --file NAME     this file of the repository instead of choosing by QUANT
  --endpoint URL  the Hub or a mirror (default: $HF_ENDPOINT, else https://huggingface.co); $HF_TOKEN is sent to it
  --dir DIR       where the file goes (default: ${defaultModelsDir()}, or $KVCHAT_MODELS_DIR)
  --json          print {repo, files, path, bytes, sha256, resumed_bytes, seconds} on stdout`;

/** A per-user folder for pulled models: $KVCHAT_MODELS_DIR, else the platform's per-user data folder + kvchat/models. */
export function defaultModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KVCHAT_MODELS_DIR) return resolve(env.KVCHAT_MODELS_DIR);
  if (process.platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'kvchat', 'models');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'kvchat', 'models');
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'kvchat', 'models');
}

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

function formatEta(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  return t >= 3600 ? `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
}

/** A bar redrawn in place on a terminal; otherwise a line every 5 s. */
function progressPrinter(name: string): (p: DownloadProgress) => void {
  const meter = new RateMeter();
  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  return (p) => {
    const now = performance.now();
    const rate = meter.sample(p.bytesDone, p.bytesTotal, now);
    const pct = p.bytesTotal ? (100 * p.bytesDone) / p.bytesTotal : 100;
    const what = p.phase === 'check-part' ? 'checking part' : `${mib(rate.bytesPerSecond)}/s ETA ${formatEta(rate.etaSeconds)}`;
    const text = `${name} ${mib(p.bytesDone)} / ${mib(p.bytesTotal)} (${pct.toFixed(1)}%) ${what}`;
    if (tty) {
      const width = 24;
      const full = Math.round((pct / 100) * width);
      process.stderr.write(`\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${text}\x1b[K${p.phase === 'done' ? '\n' : ''}`);
    } else if (p.phase === 'done' || now - lastLine > 5000) {
      lastLine = now;
      process.stderr.write(`${text}\n`);
    }
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const ref = argv[0];
  if (ref === undefined || ref.startsWith('--')) throw new UsageError(`REPO[:QUANT] is required\n${USAGE}`);
  const args = new Args(argv.slice(1), new Set(['json']), new Set(['file', 'revision', 'endpoint', 'dir']));
  let model: ReturnType<typeof parseModelRef>;
  try {
    model = parseModelRef(ref);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const token = process.env.HF_TOKEN?.trim();
  const client = new HubClient({ endpoint: hubEndpoint(args.string('endpoint')), ...(token ? { token } : {}) });
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());

  const plan = await planPull(client, { ...model, ...(args.string('file') ? { file: args.string('file')! } : {}), ...(args.string('revision') ? { revision: args.string('revision')! } : {}) }, stop.signal);
  const p = plan.probe;
  const types = Object.entries(p.tensorTypes).map(([t, n]) => `${t} x${n}`).join(', ');
  const total = plan.parts.reduce((n, f) => n + f.size, 0);
  const split = plan.parts.length > 1 ? ` in ${plan.parts.length} parts` : '';
  process.stderr.write(`${plan.repo}/${plan.file.path}: ${mib(total)}${split}, architecture ${p.architecture}, context ${p.contextLength}, tokenizer ${p.tokenizer}, tensors ${types} (header read: ${mib(p.bytesRead)})\n`);

  const dir = resolve(args.string('dir') ?? defaultModelsDir());
  // Each part of a split model is its own verified download; the model is named by (and `path` is) the first.
  const results: DownloadResult[] = [];
  for (const part of plan.parts) {
    const dest = join(dir, basename(part.path));
    const result = await downloadFile({
      url: part.url,
      dest,
      size: part.size,
      sha256: part.sha256,
      headers: (url) => client.authHeaders(url),
      signal: stop.signal,
      onProgress: progressPrinter(basename(part.path)),
    }).catch((e: unknown) => {
      if (stop.signal.aborted) throw new Error(`stopped; the bytes so far are kept in ${dest}${PART_SUFFIX}: run the same command again to resume`);
      throw e;
    });
    process.stderr.write(
      result.alreadyPresent
        ? `${dest} is already here and matches the Hub's sha256\n`
        : `${dest}: sha256 verified${result.resumedBytes ? `, resumed from ${mib(result.resumedBytes)}` : ''}, ${result.seconds.toFixed(1)} s\n`,
    );
    results.push(result);
  }
  if (args.flag('json')) {
    const first = results[0]!;
    const sum = (f: (r: DownloadResult) => number): number => results.reduce((n, r) => n + f(r), 0);
    process.stdout.write(
      `${JSON.stringify({ repo: plan.repo, files: plan.parts.map((f) => f.path), path: first.path, bytes: sum((r) => r.bytes), sha256: first.sha256, resumed_bytes: sum((r) => r.resumedBytes), seconds: Math.round(sum((r) => r.seconds) * 1000) / 1000 })}\n`,
    );
  }
}

runMain(main);
