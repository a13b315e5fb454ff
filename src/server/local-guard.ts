// Web pages the user opens can reach a server on 127.0.0.1 too: a page may send it a POST (the browser delivers it
// and only hides the answer), and through DNS rebinding a page under its own host name can even read answers. So a
// server bound to loopback answers only to loopback Host names, and no request may come from a foreign Origin
// (the server sends no CORS headers, so no page of another origin has a legitimate use for it).
//
// Bound to another address (a LAN, every interface), the server also answers only to Host names that cannot be
// rebound: IP literals, loopback names, this machine's own name (and its .local mDNS name), and names the operator
// allowed; a DNS-rebinding page arrives under its own domain name and gets a 403.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
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

/** Host names a server bound to a non-loopback address answers to, besides IP literals and loopback names. */
function acceptedOnNetwork(name: string, allowedHosts: readonly string[]): boolean {
  const own = hostname().toLowerCase();
  const n = name.toLowerCase().replace(/\.$/, '');
  return isIP(n.replace(/^\[|\]$/g, '')) !== 0 || isLoopback(n) || n === own || n === `${own}.local` || allowedHosts.some((h) => h.toLowerCase() === n);
}

/** Throws a 403 for a request a browser page made on someone else's behalf. */
export function checkLocalRequest(req: IncomingMessage, bindHost: string, allowedHosts: readonly string[] = []): void {
  const host = req.headers.host ?? '';
  const name = hostnameOf(host);
  if (isLoopback(bindHost)) {
    if (name === undefined || !isLoopback(name)) throw forbidden(`This server answers only to local host names, not '${host}'.`, 'forbidden_host');
  } else if (name === undefined || !acceptedOnNetwork(name, allowedHosts)) {
    throw forbidden(`This server does not answer to the host name '${host}' (allowed: IP addresses, this machine's name and the names given with --allowed-host).`, 'forbidden_host');
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) throw forbidden(`Requests from web pages of another origin ('${origin}') are refused.`, 'forbidden_origin');
}
