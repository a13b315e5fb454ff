// The Hugging Face Hub, through the documented subset only: model search, a repository's file tree (sizes and LFS
// sha256), and `resolve` URLs for the bytes. The endpoint is configurable (HF_ENDPOINT, as the Hub's own clients
// read it, or a setting), so a mirror works the same.
import { HubError } from './errors';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** The endpoint to use: an explicit setting, else HF_ENDPOINT, else huggingface.co; never with a trailing slash. */
export function hubEndpoint(setting?: string | null, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = setting?.trim() || env.HF_ENDPOINT?.trim() || DEFAULT_HUB_ENDPOINT;
  let url: URL;
  try {
    url = new URL(chosen);
  } catch {
    throw new HubError('bad-response', `The Hub endpoint "${chosen}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HubError('bad-response', `The Hub endpoint "${chosen}" is not http(s)`);
  return chosen.replace(/\/+$/, '');
}

/** One search result. */
export interface HubModel {
  readonly id: string;
  readonly downloads: number;
  readonly likes: number;
  readonly tags: readonly string[];
  /** ISO date of the last change (`lastModified`, else `createdAt`), when the Hub sends one. */
  readonly lastModified?: string;
}

/** One file of a repository. `sha256` is the LFS oid; absent for a small file kept in git itself. */
export interface HubFile {
  readonly path: string;
  /** Bytes. */
  readonly size: number;
  readonly sha256?: string;
}

/** What a HEAD of a resolve URL says before any redirect. */
export interface HubFileHead {
  readonly size: number | null;
  /** x-linked-etag: the LFS sha256 for LFS files (quotes removed). */
  readonly etag: string | null;
}

export interface HubClientOptions {
  readonly endpoint: string;
  readonly fetch?: typeof fetch;
  /** A Hub access token, sent as a Bearer token to the endpoint only (never to a redirect's other origin). */
  readonly token?: string;
}

const encodePath = (path: string): string => path.split('/').map(encodeURIComponent).join('/');

function checkRepo(repo: string): string {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo) || repo.includes('..')) throw new HubError('not-found', `"${repo}" is not a repository name (owner/name)`);
  return repo;
}

export class HubClient {
  readonly endpoint: string;
  private readonly get: typeof fetch;

  constructor(private readonly options: HubClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.get = options.fetch ?? fetch;
  }

  /** GET /api/models?search=&filter=gguf&sort=downloads&limit= */
  async searchModels(search: string, limit = 20, signal?: AbortSignal): Promise<HubModel[]> {
    const query = new URLSearchParams({ search, filter: 'gguf', sort: 'downloads', limit: String(limit) });
    const body = await this.json(`/api/models?${query}`, 'model search', signal);
    if (!Array.isArray(body)) throw new HubError('bad-response', `${this.endpoint}: the model search did not answer a list`);
    return body.flatMap((m: unknown) => {
      const r = m as { id?: unknown; modelId?: unknown; downloads?: unknown; likes?: unknown; tags?: unknown; lastModified?: unknown; createdAt?: unknown };
      const id = typeof r.id === 'string' ? r.id : typeof r.modelId === 'string' ? r.modelId : undefined;
      if (!id) return [];
      const changed = typeof r.lastModified === 'string' ? r.lastModified : typeof r.createdAt === 'string' ? r.createdAt : undefined;
      return [{
        id,
        downloads: typeof r.downloads === 'number' ? r.downloads : 0,
        likes: typeof r.likes === 'number' ? r.likes : 0,
        tags: Array.isArray(r.tags) ? r.tags.filter((t): t is string => typeof t === 'string') : [],
        ...(changed ? { lastModified: changed } : {}),
      }];
    });
  }

  /** GET /api/models/{repo}/tree/{revision}?recursive=true: every file, with its size and LFS sha256. */
  async listFiles(repo: string, revision = 'main', signal?: AbortSignal): Promise<HubFile[]> {
    const path = `/api/models/${checkRepo(repo)}/tree/${encodeURIComponent(revision)}?recursive=true`;
    const body = await this.json(path, `repository ${repo} at revision ${revision}`, signal);
    if (!Array.isArray(body)) throw new HubError('bad-response', `${this.endpoint}: the file list of ${repo} is not a list`);
    return body.flatMap((e: unknown) => {
      const r = e as { type?: unknown; path?: unknown; size?: unknown; lfs?: { oid?: unknown; size?: unknown } };
      if (r.type !== 'file' || typeof r.path !== 'string') return [];
      const size = typeof r.lfs?.size === 'number' ? r.lfs.size : r.size;
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return [];
      const oid = typeof r.lfs?.oid === 'string' && /^[0-9a-f]{64}$/i.test(r.lfs.oid) ? r.lfs.oid.toLowerCase() : undefined;
      return [oid ? { path: r.path, size, sha256: oid } : { path: r.path, size }];
    });
  }

  /** The URL of a file's bytes: /{repo}/resolve/{revision}/{path} (it may redirect to another origin). */
  resolveUrl(repo: string, revision: string, path: string): string {
    return `${this.endpoint}/${checkRepo(repo)}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`;
  }

  /** HEAD of the resolve URL, not followed: x-linked-size and x-linked-etag (or Content-Length and ETag). */
  async headFile(repo: string, revision: string, path: string, signal?: AbortSignal): Promise<HubFileHead> {
    const url = this.resolveUrl(repo, revision, path);
    const r = await this.request(url, { method: 'HEAD', redirect: 'manual', signal }, `${repo}/${path}`);
    if (r.status === 404) throw new HubError('not-found', `${repo} has no file ${path} at ${revision}`, { status: 404 });
    if (r.status >= 400) throw new HubError('http', `${url}: HEAD answered ${r.status}`, { status: r.status });
    const sizeText = r.headers.get('x-linked-size') ?? r.headers.get('content-length');
    const etag = r.headers.get('x-linked-etag') ?? r.headers.get('etag');
    return { size: sizeText !== null && /^\d+$/.test(sizeText) ? Number(sizeText) : null, etag: etag ? etag.replace(/^W\//, '').replace(/"/g, '') : null };
  }

  /** Headers for a request to `url`: the token goes to the endpoint's origin only. */
  authHeaders(url: string): Record<string, string> {
    if (!this.options.token || new URL(url).origin !== new URL(this.endpoint).origin) return {};
    return { Authorization: `Bearer ${this.options.token}` };
  }

  private async request(url: string, init: RequestInit, what: string): Promise<Response> {
    try {
      return await this.get(url, { ...init, headers: { ...this.authHeaders(url), ...(init.headers as Record<string, string> | undefined) } });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw new HubError('aborted', `Stopped reading ${what}`, { cause: e });
      throw new HubError('network', `Cannot reach ${this.endpoint} for ${what}: ${(e as Error).message}`, { cause: e });
    }
  }

  private async json(path: string, what: string, signal?: AbortSignal): Promise<unknown> {
    const r = await this.request(`${this.endpoint}${path}`, { signal }, what);
    if (r.status === 404 || r.status === 401) {
      await r.body?.cancel();
      throw new HubError('not-found', `${this.endpoint} has no ${what} (${r.status}): check the name and revision`, { status: r.status });
    }
    if (!r.ok) {
      const text = (await r.text().catch(() => '')).slice(0, 200);
      throw new HubError('http', `${this.endpoint} answered ${r.status} for ${what}${text ? `: ${text}` : ''}`, { status: r.status });
    }
    try {
      return await r.json();
    } catch (e) {
      throw new HubError('bad-response', `${this.endpoint} answered ${what} with invalid JSON`, { cause: e });
    }
  }
}
