// The store as the engine's worker sees it: main's SQLite store reached through the UI thread (`store-call` out,
// `store-result` back), shaped as the engine's ConversationKvStore so ConversationCache and the KV tiers use it
// as they use the store itself in Node.
import type { ConversationKvStore, SavedConversationKv } from '../../../gpu/engine/conversation-cache';
import type { StoredKvBlock } from '../../../gpu/engine/resume';
import { bytesToTokens, tokensToBytes, type ApiResult, type ConversationKv, type KvBlockRecord } from '../../../shared/api';
import type { FromWorker, StoreMethod } from './protocol';

/** Most block bytes in one IPC message: a large model's block is MiBs, and one message should not hold a GiB. */
const PUT_BATCH_BYTES = 32 * 2 ** 20;

export class StoreProxy implements ConversationKvStore {
  private nextCallId = 1;
  private readonly calls = new Map<number, (r: ApiResult<unknown>) => void>();

  constructor(private readonly post: (m: FromWorker) => void) {}

  /** One store verb through the UI thread; rejects with the store's own message. */
  async call<T>(method: StoreMethod, payload?: unknown): Promise<T> {
    const callId = this.nextCallId++;
    const result = await new Promise<ApiResult<unknown>>((resolve) => {
      this.calls.set(callId, resolve);
      this.post({ type: 'store-call', callId, method, payload });
    });
    if (!result.ok) throw new Error(`${method}: ${result.error.message}`);
    return result.value as T;
  }

  /** The UI thread's answer to call `callId`. */
  settle(callId: number, result: ApiResult<unknown>): void {
    this.calls.get(callId)?.(result);
    this.calls.delete(callId);
  }

  async getBlocks(hashes: readonly string[]): Promise<Map<string, StoredKvBlock>> {
    return new Map((await this.call<KvBlockRecord[]>('getKvBlocks', { hashes })).map((b): [string, StoredKvBlock] => [b.hash, b]));
  }

  async storedHashes(hashes: readonly string[]): Promise<Set<string>> {
    return new Set(await this.call<string[]>('getStoredKvHashes', { hashes }));
  }

  async putBlocks(blocks: readonly StoredKvBlock[]): Promise<void> {
    let batch: StoredKvBlock[] = [];
    let bytes = 0;
    for (const b of blocks) {
      if (batch.length > 0 && bytes + b.bytes.byteLength > PUT_BATCH_BYTES) {
        await this.call('putKvBlocks', { blocks: batch });
        batch = [];
        bytes = 0;
      }
      batch.push(b);
      bytes += b.bytes.byteLength;
    }
    if (batch.length > 0) await this.call('putKvBlocks', { blocks: batch });
  }

  async conversationTokens(conversationId: number): Promise<{ modelFingerprint: string; tokens: number[]; computed: number; version: number } | undefined> {
    const kv = await this.call<ConversationKv | null>('getConversationKv', { conversationId });
    return kv ? { modelFingerprint: kv.modelFingerprint, tokens: bytesToTokens(kv.tokens), computed: kv.computed, version: kv.version } : undefined;
  }

  /** Returns the history's new version; refused (kv-conversation-changed) when another writer saved since baseVersion. */
  async saveConversationKv(conversationId: number, kv: SavedConversationKv): Promise<number> {
    return this.call<number>('saveConversationKv', {
      conversationId,
      modelFingerprint: kv.modelFingerprint,
      tokens: tokensToBytes(kv.tokens),
      computed: kv.computed,
      blockHashes: kv.blockHashes,
      ...(kv.baseVersion !== undefined ? { baseVersion: kv.baseVersion } : {}),
    });
  }
}
