// A BridgeTransport whose far end is whichever renderer last reported its loaded model: main's IPC (ipc.ts) and
// the test host's WebSocket both deliver the renderer's replies here and attach their way of sending to it.
import type { BridgeFromRenderer, BridgeToRenderer } from '../../shared/api';
import type { BridgeTransport } from './bridge';

export type BridgeSink = (message: BridgeToRenderer) => void;

export class BridgeChannel implements BridgeTransport {
  private sink: BridgeSink | null = null;
  private readonly listeners = new Set<(m: BridgeFromRenderer) => void>();

  send(message: BridgeToRenderer): void {
    // No renderer: nobody can answer; the bridge's request then fails when the server stops or the renderer returns.
    this.sink?.(message);
  }

  onMessage(listener: (m: BridgeFromRenderer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A message from a renderer; `reply` is how to reach that renderer. A model report makes it the engine in use. */
  deliver(message: BridgeFromRenderer, reply: BridgeSink | undefined): void {
    if (message.type === 'model' && reply) this.sink = reply;
    for (const l of this.listeners) l(message);
  }

  /** The renderer behind `sink` is gone (window closed, socket dropped): the server has no engine any more. */
  detach(sink: BridgeSink): void {
    if (this.sink !== sink) return;
    this.sink = null;
    this.deliver({ type: 'model', modelId: null, contextLength: 0, kvBlocks: 0 }, undefined);
  }
}
