// A ByteSource over HTTP Range requests: the engine's worker reads a model tensor by tensor from a URL
// (`kvchat-model://<id>` in the app, http://localhost in the test host) and never holds the whole file.
import type { ByteSource, GgufFile } from './reader';
import { openGgufModel, splitPartUrl } from './split';

/** A model URL that could not be read: which URL, what the server said. */
export class HttpSourceError extends Error {
  readonly code = 'model-fetch-failed';

  constructor(
    readonly url: string,
    message: string,
  ) {
    super(`Could not read the model at ${url}: ${message}`);
    this.name = 'HttpSourceError';
  }
}

export interface HttpSourceOptions {
  /** Defaults to the global fetch. */
  readonly fetch?: typeof fetch;
  /** Called after every read with the bytes fetched so far (load progress). */
  readonly onBytes?: (bytesFetched: number) => void;
}

/** Total size from `Content-Range: bytes a-b/SIZE`, or null. */
function sizeFromContentRange(header: string | null): number | null {
  const m = header ? /\/(\d+)\s*$/.exec(header) : null;
  return m ? Number(m[1]) : null;
}

/** Opens `url` as a ByteSource: one 1-byte Range request learns the size and proves Range support. */
export async function httpSource(url: string, opts: HttpSourceOptions = {}): Promise<ByteSource> {
  const get = opts.fetch ?? fetch;
  let fetched = 0;
  const rangeRequest = async (start: number, endInclusive: number): Promise<Response> => {
    let r: Response;
    try {
      r = await get(url, { headers: { Range: `bytes=${start}-${endInclusive}` } });
    } catch (e) {
      throw new HttpSourceError(url, (e as Error).message);
    }
    if (r.status !== 206) {
      const text = r.ok ? 'the server ignored the Range header (206 expected)' : `${r.status} ${(await r.text().catch(() => '')).slice(0, 200)}`;
      throw new HttpSourceError(url, text);
    }
    return r;
  };
  const probe = await rangeRequest(0, 0);
  const size = sizeFromContentRange(probe.headers.get('Content-Range'));
  await probe.arrayBuffer();
  if (size === null) throw new HttpSourceError(url, 'no Content-Range size in the answer');
  return {
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`read of ${length} bytes at ${offset} is outside the ${size}-byte model`);
      }
      if (length === 0) return new Uint8Array(0);
      const r = await rangeRequest(offset, offset + length - 1);
      const bytes = new Uint8Array(await r.arrayBuffer());
      if (bytes.byteLength !== length) throw new HttpSourceError(url, `asked for ${length} bytes at ${offset}, got ${bytes.byteLength}`);
      fetched += length;
      opts.onBytes?.(fetched);
      return bytes;
    },
  };
}

/**
 * Opens the model at `url` over Range requests: one GGUF file, or the first part of a split model whose other parts
 * are at splitPartUrl (by file name, or `?part=<index>` on the app's model protocol).
 */
export async function openHttpGguf(url: string, opts: HttpSourceOptions = {}): Promise<GgufFile> {
  return openGgufModel(await httpSource(url, opts), {
    name: (index, count) => (index === 1 ? url : splitPartUrl(url, index, count)),
    open: (index, count) => httpSource(splitPartUrl(url, index, count), opts),
  });
}
