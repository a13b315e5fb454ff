// What to pull for REPO[:QUANT] [--file NAME]: the file (size, LFS sha256), its resolve URL and the probe of its
// header. The first candidate whose header the engine accepts wins; an explicit choice the engine cannot run is
// refused with the probe's reason, before any large transfer. A split model is every one of its parts (each with
// its own LFS sha256), judged by all their headers; its first part is the file that names the model.
import type { HubClient, HubFile } from './client';
import { HubError } from './errors';
import { probeRemoteGgufParts, type ModelProbe } from './probe';
import { candidateFiles } from './quant';

export type VerifiableFile = HubFile & { readonly sha256: string };

export interface PullPlan {
  readonly repo: string;
  readonly revision: string;
  /** The model's file: the only one, or the first part of a split model. */
  readonly file: VerifiableFile;
  readonly url: string;
  /** Every file to download, in order (just `file` unless the model is split), with its resolve URL. */
  readonly parts: readonly (VerifiableFile & { readonly url: string })[];
  readonly probe: ModelProbe;
}

export interface PullRequest {
  readonly repo: string;
  readonly quant?: string;
  readonly file?: string;
  readonly revision?: string;
}

/** Parses `REPO[:QUANT]`. */
export function parseModelRef(ref: string): { repo: string; quant?: string } {
  const [repo, quant, ...rest] = ref.split(':');
  if (!repo || rest.length > 0 || quant === '') throw new HubError('not-found', `"${ref}" is not REPO[:QUANT] (e.g. bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M)`);
  return quant === undefined ? { repo } : { repo, quant };
}

export async function planPull(client: HubClient, request: PullRequest, signal?: AbortSignal): Promise<PullPlan> {
  const revision = request.revision ?? 'main';
  const files = await client.listFiles(request.repo, revision, signal);
  const candidates = candidateFiles(request.repo, files, { ...(request.quant ? { quant: request.quant } : {}), ...(request.file ? { name: request.file } : {}) });
  const refusals: string[] = [];
  for (const model of candidates) {
    const parts = model.parts.map((f) => {
      if (!f.sha256) throw new HubError('no-checksum', `${request.repo}/${f.path} has no LFS sha256 on the Hub, so its download could not be verified`);
      return { ...f, sha256: f.sha256, url: client.resolveUrl(request.repo, revision, f.path) };
    });
    const probe = await probeRemoteGgufParts(parts.map((p) => p.url), { fetch: (input, init) => fetch(input, { ...init, headers: { ...client.authHeaders(String(input)), ...(init?.headers as Record<string, string>) } }) });
    const { url, ...file } = parts[0]!;
    if (probe.supported) return { repo: request.repo, revision, file, url, parts, probe };
    refusals.push(`${model.path}: ${probe.reason}`);
    if (/^architecture /.test(probe.reason ?? '')) break; // every file of the repository is the same model
  }
  throw new HubError('unsupported-model', `${request.repo} cannot run on this engine: ${refusals.join('; ')}`);
}
