// The port held while no model can answer yet (the CLI loading a model, the app with none loaded): every request
// gets 503 with Retry-After and says why, as llama-server does while it loads, instead of a refused connection a
// client cannot tell from a server that is not running. The same loopback guard as the real server applies.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serviceUnavailable, toApiError } from './errors';
import { sendError } from './http-io';
import { checkLocalRequest } from './local-guard';

export interface UnavailableServerOptions {
  readonly host: string;
  /** 0 picks a free port (read it from the result). */
  readonly port: number;
  /** What a client reads in the error message, e.g. "The model is loading." */
  readonly reason: string;
  /** The error code, e.g. model_loading or model_not_loaded. */
  readonly code: string;
  readonly retryAfterS: number;
  readonly allowedHosts?: readonly string[];
}

export interface UnavailableServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

function answer(o: UnavailableServerOptions, req: IncomingMessage, res: ServerResponse): void {
  try {
    checkLocalRequest(req, o.host, o.allowedHosts);
    sendError(res, serviceUnavailable(o.reason, o.code, o.retryAfterS), true);
  } catch (e) {
    sendError(res, toApiError(e), true);
  }
  req.resume(); // a body nobody reads must not hold the socket
}

export function startUnavailableServer(o: UnavailableServerOptions): Promise<UnavailableServer> {
  const server = createServer({ headersTimeout: 20_000, requestTimeout: 20_000 }, (req, res) => answer(o, req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve({
        host: o.host,
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
