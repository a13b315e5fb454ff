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
