// The test host's wire format (one WebSocket binary frame per message): JSON with every Uint8Array lifted out
// into an attachment, so byte payloads (KV blocks, token histories, dropped files) travel as raw bytes.
// Frame: u32 LE JSON length | JSON (UTF-8) | attachment bytes back to back. In JSON an attachment is
// {"$bytes": [offset, length]} relative to the end of the JSON.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function lift(value: unknown, parts: Uint8Array[], offset: { n: number }): unknown {
  if (value instanceof Uint8Array) {
    const ref = { $bytes: [offset.n, value.byteLength] };
    parts.push(value);
    offset.n += value.byteLength;
    return ref;
  }
  if (Array.isArray(value)) return value.map((v) => lift(v, parts, offset));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = lift(v, parts, offset);
    return out;
  }
  return value;
}

function lower(value: unknown, blob: Uint8Array): unknown {
  if (Array.isArray(value)) return value.map((v) => lower(v, blob));
  if (value !== null && typeof value === 'object') {
    const ref = (value as { $bytes?: unknown }).$bytes;
    if (Array.isArray(ref) && ref.length === 2 && Object.keys(value).length === 1) {
      const [start, length] = ref as [number, number];
      if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > blob.byteLength) {
        throw new WireError(`attachment [${start}, ${length}] is outside the frame's ${blob.byteLength} attachment bytes`);
      }
      return blob.slice(start, start + length); // a copy that owns its buffer
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = lower(v, blob);
    return out;
  }
  return value;
}

export class WireError extends Error {
  readonly code = 'bad-frame';

  constructor(message: string) {
    super(`Malformed message: ${message}`);
    this.name = 'WireError';
  }
}

export function encodeFrame(message: unknown): Uint8Array {
  const parts: Uint8Array[] = [];
  const offset = { n: 0 };
  const json = encoder.encode(JSON.stringify(lift(message, parts, offset)));
  const frame = new Uint8Array(4 + json.byteLength + offset.n);
  new DataView(frame.buffer).setUint32(0, json.byteLength, true);
  frame.set(json, 4);
  let at = 4 + json.byteLength;
  for (const p of parts) {
    frame.set(p, at);
    at += p.byteLength;
  }
  return frame;
}

export function decodeFrame(frame: Uint8Array): unknown {
  if (frame.byteLength < 4) throw new WireError(`${frame.byteLength}-byte frame`);
  const jsonLength = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0, true);
  if (4 + jsonLength > frame.byteLength) throw new WireError(`JSON length ${jsonLength} exceeds the ${frame.byteLength}-byte frame`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(frame.subarray(4, 4 + jsonLength)));
  } catch (e) {
    throw new WireError((e as Error).message);
  }
  return lower(parsed, frame.subarray(4 + jsonLength));
}

/** Client -> host. */
export interface WireRequest {
  readonly id: number;
  readonly method: string;
  readonly payload?: unknown;
}

/** Host -> client: an answer to request `id`, or an event (import progress). */
export type WireReply = { readonly id: number; readonly result: unknown } | { readonly event: string; readonly payload: unknown };
