// Web pages the user opens can reach a server on 127.0.0.1 too: a page may send it a POST (the browser delivers it
// and only hides the answer), and through DNS rebinding a page under its own host name can even read answers. So a
// server bound to loopback answers only to loopback Host names, and no request may come from a foreign Origin
// (the server sends no CORS headers, so no page of another origin has a legitimate use for it).
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors';

const LOOPBACK_NAMES = new Set(['localhost', '[::1]', '::1']);

export const isLoopback = (host: string): boolean => LOOPBACK_NAMES.has(host.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(host);

const forbidden = (message: string, code: string): ApiError => new ApiError(403, message, 'invalid_request_error', code);

function hostnameOf(hostHeader: string): string | undefined {
  try {
    return new URL(`http://${hostHeader}`).hostname;
  } catch {
    return undefined;
  }
}

/** Throws a 403 for a request a browser page made on someone else's behalf. */
export function checkLocalRequest(req: IncomingMessage, bindHost: string): void {
  const host = req.headers.host ?? '';
  if (isLoopback(bindHost)) {
    const name = hostnameOf(host);
    if (name === undefined || !isLoopback(name)) throw forbidden(`This server answers only to local host names, not '${host}'.`, 'forbidden_host');
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) throw forbidden(`Requests from web pages of another origin ('${origin}') are refused.`, 'forbidden_origin');
}
