// The Hub as the Discover view uses it: search, a repository's GGUF files grouped by quantization (split files as
// one), the header check of one file over Range, the curated list (bundled, offline), and the endpoint and token
// settings. The token is kept encrypted (the remote-server keys' cipher) in app_state, decrypted only for a request
// to the endpoint's own origin, and never answered to the renderer. Nothing here touches the network until called.
import { HubClient, hubEndpoint, type HubFile } from '../../node/hub/client';
import { HubError } from '../../node/hub/errors';
import { probeRemoteGgufParts } from '../../node/hub/probe';
import { engineReadsQuant, quantOfFileName, splitPartPath } from '../../node/hub/quant';
import type { CuratedModel, DownloadEvent, HubFileCheck, HubModelFile, HubQuantGroup, HubRepository, HubRepositoryFiles, HubSettings } from '../../shared/api';
import type { Db } from '../../store/database';
import type { SecretCipher } from '../remote/cipher';
import { RemoteError } from '../remote/errors';
import curatedJson from '../../../resources/curated-models.json';

const ENDPOINT_KEY = 'hub_endpoint';
const TOKEN_KEY = 'hub_token_encrypted';
const REVISION = 'main';

/** `name-00001-of-00003.gguf`: part 1 of 3. */
const SPLIT = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

export interface HubServiceOptions {
  readonly db: Db;
  readonly cipher: SecretCipher;
  /** HF_ENDPOINT and the like (process.env in the app). */
  readonly env?: NodeJS.ProcessEnv;
  readonly fetch?: typeof fetch;
}

export class HubService {
  constructor(private readonly o: HubServiceOptions) {}

  settings(): HubSettings {
    const setting = this.endpointSetting();
    return { endpoint: this.endpoint(), endpointSetting: setting, hasToken: this.readState(TOKEN_KEY) !== undefined, canStoreToken: this.o.cipher.available() };
  }

  /** `endpoint`: a URL, or null / '' for the default; `token`: stored encrypted, '' or null removes it; omitted: kept. */
  setSettings(changes: { endpoint?: string | null | undefined; token?: string | null | undefined }): HubSettings {
    if (changes.endpoint !== undefined) {
      const endpoint = changes.endpoint?.trim() || null;
      if (endpoint === null) this.writeState(ENDPOINT_KEY, null);
      else this.writeState(ENDPOINT_KEY, hubEndpoint(endpoint)); // refuses what is not an http(s) URL
    }
    if (changes.token !== undefined) {
      if (!changes.token) this.writeState(TOKEN_KEY, null);
      else {
        if (!this.o.cipher.available()) {
          throw new RemoteError('cipher-unavailable', 'The Hugging Face token was not saved: this system offers no secure storage (keychain) to encrypt it. KVChat never stores tokens as plain text.');
        }
        this.writeState(TOKEN_KEY, this.o.cipher.encrypt(changes.token).toString('base64'));
      }
    }
    return this.settings();
  }

  /** The endpoint setting (null: none), for ModelDownloads. */
  endpointSetting(): string | null {
    return this.readState(ENDPOINT_KEY) ?? null;
  }

  /** The plain token, for a request to the endpoint's origin only (HubClient.authHeaders checks the origin). */
  token(): string | undefined {
    const stored = this.readState(TOKEN_KEY);
    if (stored === undefined || !this.o.cipher.available()) return undefined;
    try {
      return this.o.cipher.decrypt(Buffer.from(stored, 'base64'));
    } catch {
      return undefined; // another keychain, or a damaged value: go on without it
    }
  }

  curated(): CuratedModel[] {
    return CURATED;
  }

  async search(query: string, limit = 30): Promise<HubRepository[]> {
    const models = await this.client().searchModels(query, limit);
    return models.map((m) => ({ id: m.id, downloads: m.downloads, likes: m.likes, updatedAt: m.lastModified ?? null }));
  }

  async files(repo: string): Promise<HubRepositoryFiles> {
    return { repo, groups: groupByQuant(await this.client().listFiles(repo, REVISION)) };
  }

  /** The header check of one file (Range requests; nothing past the header). */
  async probe(repo: string, file: string): Promise<HubFileCheck> {
    const part = SPLIT.exec(file);
    if (part && part[2] !== '00001') throw new HubError('not-found', `${file} is not the first part of a split model`);
    const client = this.client();
    // A split model is judged by every part's header (the first holds the metadata, each its own tensors).
    const count = part ? Number(part[3]) : 1;
    const files = part ? Array.from({ length: count }, (_, i) => splitPartPath(part[1]!, i + 1, count)) : [file];
    const urls = files.map((f) => client.resolveUrl(repo, REVISION, f));
    const probe = await probeRemoteGgufParts(urls, { fetch: (input, init) => (this.o.fetch ?? fetch)(input, { ...init, headers: { ...client.authHeaders(String(input)), ...(init?.headers as Record<string, string>) } }) });
    const reason = probe.reason ?? null;
    return {
      repo,
      file,
      supported: reason === null,
      reason,
      architecture: probe.architecture,
      contextLength: probe.contextLength,
      tensorTypes: probe.tensorTypes,
      tokenizer: probe.tokenizer,
      fileSize: probe.fileSize,
      shape: probe.shape,
    };
  }

  private endpoint(): string {
    return hubEndpoint(this.endpointSetting(), this.o.env ?? process.env);
  }

  private client(): HubClient {
    const token = this.token();
    return new HubClient({ endpoint: this.endpoint(), ...(this.o.fetch ? { fetch: this.o.fetch } : {}), ...(token ? { token } : {}) });
  }

  private readState(key: string): string | undefined {
    return this.o.db.prepare('SELECT value FROM app_state WHERE key = ?').pluck().get(key) as string | undefined;
  }

  private writeState(key: string, value: string | null): void {
    if (value === null) this.o.db.prepare('DELETE FROM app_state WHERE key = ?').run(key);
    else this.o.db.prepare('INSERT OR REPLACE INTO app_state (key, value) VALUES (?, ?)').run(key, value);
  }
}

/** GGUF files by quantization label (largest group first by name order of llama.cpp's labels); split parts as one. */
export function groupByQuant(files: readonly HubFile[]): HubQuantGroup[] {
  const models = new Map<string, { file: string; size: number; parts: number; of: number }>();
  for (const f of files) {
    if (!/\.gguf$/i.test(f.path)) continue;
    const split = SPLIT.exec(f.path);
    const key = split ? `${split[1]}-of-${split[3]}` : f.path;
    const m = models.get(key) ?? { file: f.path, size: 0, parts: 0, of: split ? Number(split[3]) : 1 };
    if (split?.[2] === '00001') m.file = f.path;
    m.size += f.size;
    m.parts += 1;
    models.set(key, m);
  }
  const groups = new Map<string, HubModelFile[]>();
  for (const m of models.values()) {
    const quant = quantOfFileName(m.file.replace(SPLIT, '$1.gguf')) ?? 'other';
    const problem = m.parts < m.of ? `only ${m.parts} of its ${m.of} parts are in the repository` : null;
    const entry: HubModelFile = { file: m.file, size: m.size, parts: m.parts, engineReadsQuant: quant === 'other' || engineReadsQuant(quant), problem };
    groups.set(quant, [...(groups.get(quant) ?? []), entry]);
  }
  return [...groups]
    .map(([quant, list]) => ({ quant, files: list.sort((a, b) => a.size - b.size || (a.file < b.file ? -1 : 1)) }))
    .sort((a, b) => (a.quant === 'other' ? 1 : b.quant === 'other' ? -1 : a.quant < b.quant ? -1 : a.quant > b.quant ? 1 : 0));
}

/** The curated list, checked once: a malformed entry is a build mistake, caught by the tests. */
function readCurated(raw: unknown): CuratedModel[] {
  const list = (raw as { models?: unknown }).models;
  if (!Array.isArray(list)) throw new Error('resources/curated-models.json: "models" must be a list');
  return list.map((e: unknown, i) => {
    const r = e as Partial<Record<keyof CuratedModel, unknown>>;
    if (typeof r.repo !== 'string' || typeof r.file !== 'string' || typeof r.name !== 'string' || typeof r.architecture !== 'string' || typeof r.why !== 'string' || typeof r.size !== 'number') {
      throw new Error(`resources/curated-models.json: entry ${i} needs repo, file, name, architecture, why and size`);
    }
    return { repo: r.repo, file: r.file, name: r.name, architecture: r.architecture, why: r.why, size: r.size };
  });
}

const CURATED: CuratedModel[] = readCurated(curatedJson);

/** Download events for the UI: every state change, but at most one progress event per download per `intervalMs`. */
export function throttleDownloadEvents(send: (e: DownloadEvent) => void, intervalMs = 100): (e: DownloadEvent) => void {
  const last = new Map<number, number>();
  return (e) => {
    if (e.kind === 'progress') {
      const t = Date.now();
      if (t - (last.get(e.download.id) ?? 0) < intervalMs) return;
      last.set(e.download.id, t);
    } else if (e.kind === 'removed') last.delete(e.id);
    send(e);
  };
}
