// One GET of a download, through node:http/https rather than fetch: fetch's web streams cost the receiving thread a
// fifth to a half more CPU per byte on loopback (`npm run -s bench -- --download --stages`), and a verified download
// is CPU-bound there. Redirects are followed here, as fetch does (to another origin too), and each
// hop's headers are asked for by its URL, so an Authorization meant for the Hub endpoint never reaches the file host
// it redirects to; the Range headers go to every hop. A connection that sends nothing for STALL_MS is dropped (fetch
// gives up on a silent body after 300 s; a download should retry sooner). `fetchGet` adapts an injected fetch to the
// same shape.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { HubError } from './errors';

/** A connection silent this long is dropped (and the download retries from its part file). */
const STALL_MS = 60_000;
/** As fetch's redirect limit. */
const MAX_REDIRECTS = 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** The body's chunks, in order; throws if the connection drops mid-body. */
  readonly body: AsyncIterable<Uint8Array>;
  /** Stops reading the body and frees the connection. */
  cancel(): Promise<void>;
}

export interface HttpGetOptions {
  /** Headers for one hop, by its URL (credentials only for the origin they belong to). */
  readonly headers: (url: string) => Record<string, string>;
  readonly signal?: AbortSignal;
  /** Milliseconds of silence (before the answer or within its body) that drop the connection; STALL_MS by default. */
  readonly stallMs?: number;
}

export type HttpGet = (url: string, o: HttpGetOptions) => Promise<HttpAnswer>;

function webHeaders(res: IncomingMessage): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
  }
  return h;
}

function once(url: URL, headers: Record<string, string>, signal: AbortSignal | undefined, stallMs: number): Promise<IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HubError('bad-response', `Cannot download from ${url.protocol} URLs (${url.href})`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'GET', headers, ...(signal ? { signal } : {}) }, resolve);
    req.setTimeout(stallMs, () => req.destroy(new Error(`nothing from ${url.host} for ${stallMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET through node:http/https, following redirects; a URL it cannot fetch or a redirect loop is a HubError. */
export const nodeGet: HttpGet = async (start, o) => {
  let url = new URL(start);
  for (let hops = 0; ; hops++) {
    const res = await once(url, o.headers(url.href), o.signal, o.stallMs ?? STALL_MS);
    const location = res.headers.location;
    if (REDIRECTS.has(res.statusCode ?? 0) && location) {
      res.resume(); // a redirect's body is a few bytes: read it so the connection can serve the next hop
      if (hops >= MAX_REDIRECTS) throw new HubError('bad-response', `More than ${MAX_REDIRECTS} redirects from ${start}`);
      url = new URL(location, url);
      continue;
    }
    // The socket's stall timer covers the body too; a stall or a cut surfaces as an error from the iterator.
    return {
      status: res.statusCode ?? 0,
      headers: webHeaders(res),
      body: res,
      cancel: async () => void res.destroy(),
    };
  }
};

/** The same shape over an injected fetch (which follows redirects itself and asks for the first hop's headers). */
export function fetchGet(f: typeof fetch): HttpGet {
  return async (url, o) => {
    const r = await f(url, { headers: o.headers(url), ...(o.signal ? { signal: o.signal } : {}) });
    const body = r.body;
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    return {
      status: r.status,
      headers: r.headers,
      body: {
        async *[Symbol.asyncIterator]() {
          if (!body) return;
          reader = body.getReader();
          for (;;) {
            const next = await reader.read();
            if (next.done) return;
            yield next.value;
          }
        },
      },
      cancel: async () => {
        await (reader ?? body)?.cancel().catch(() => undefined);
      },
    };
  };
}
