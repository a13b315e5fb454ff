// Is a loopback port closed? A fresh TCP connection, not fetch: fetch may reuse a kept-alive socket from an earlier
// request, which then fails with "other side closed" instead of telling whether the port still accepts connections.
import { createConnection } from 'node:net';

/** Resolves with the error code of a new connection to 127.0.0.1:`port` (ECONNREFUSED when nothing listens), or 'connected'. */
export function connectResult(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}
