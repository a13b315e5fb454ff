// Base URLs of remote servers: http or https only, no credentials in the URL (a key belongs in the encrypted
// column), normalized so `${base}/v1/models` is always right whether the user typed ".../v1/" or not.
import { RemoteError } from './errors';

export function normalizeBaseUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    // The input is not echoed: a mistyped field could hold a key.
    throw new RemoteError('invalid-url', 'The server address is not a URL; enter one such as http://localhost:8000');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RemoteError('invalid-url', `Only http:// and https:// servers are supported, not ${url.protocol}//`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new RemoteError('invalid-url', 'Put the API key in its own field, not in the URL');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new RemoteError('invalid-url', 'The server URL cannot have a query (?...) or fragment (#...)');
  }
  const path = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

/** What error messages name: the host and port only. */
export function hostOf(baseUrl: string): string {
  return new URL(baseUrl).host;
}

/** Scheme, host and port: a key entered for one origin is never sent to another. */
export function originOf(baseUrl: string): string {
  return new URL(baseUrl).origin;
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost: traffic that never leaves this computer. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (h === 'localhost' || h === '[::1]') return true;
  if (/^127(\.\d{1,3}){3}$/.test(h)) return true;
  // The URL parser writes ::ffff:127.0.0.1 as [::ffff:7f00:1] (and so on through 127.255.255.255).
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(h);
}

/** Whether a key sent to this base URL crosses the network unencrypted: plain http:// to another machine. */
export function sendsKeyInClear(baseUrl: string): boolean {
  const url = new URL(baseUrl);
  return url.protocol === 'http:' && !isLoopbackHost(url.hostname);
}
