// Chats that travel: a conversation (every branch, its settings and system prompt) exported as one JSON document,
// and imported back as a NEW conversation (never over an existing one). Optionally the document carries the
// conversation's KV: its exact token history, the model's fingerprint, and its blocks with their checksums, so it
// resumes at once on a machine with the same model file. On import the blocks are kept only when that model is in
// this library, every block's name is recomputed from the token history (a name the history does not give is
// refused) and every checksum is checked; anything refused is simply recomputed when the chat is next used.
// A name and a checksum prove nothing about where bytes came from (a crafted file can carry wrong K/V under the right
// names), so imported blocks are private to the imported conversation (gpu/kv/private-blocks.ts): stored under
// names only its resume looks for, never matched by another conversation's prefix lookup; where this machine has
// computed a block of the same name, its own block is used and the imported bytes are dropped.
import { z } from 'zod';
import { fullGenerationSettings, messageRole, messageStats, messageStatus } from '../shared/api-schemas';
import type { ConversationImport } from '../shared/api';
import { conversationMarkdown } from './conversation-markdown';
import { blockChainRoot, blockHashChain, tailBlockName } from '../gpu/kv/hash';
import { KV_BLOCK_TOKENS } from '../gpu/kv/layout';
import { privateBlockName } from '../gpu/kv/private-blocks';
import { ConversationRepository } from './conversations';
import type { Db } from './database';
import { StoreError } from './errors';
import { KvBlockStore, type KvBlock } from './kv-store';
import { MessageRepository } from './messages';

export const CONVERSATION_EXPORT_FORMAT = 'kvchat-conversation';
export const CONVERSATION_EXPORT_VERSION = 1;

const exportedMessage = z.strictObject({
  /** Local to the document: parents name these ids. */
  id: z.int().min(1),
  parentId: z.int().min(1).nullable(),
  role: messageRole,
  content: z.string(),
  reasoning: z.string().default(''),
  tokenCount: z.int().min(0).nullable(),
  stats: messageStats,
  status: messageStatus,
  createdAt: z.number(),
});

const exportedBlock = z.strictObject({
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 block name'),
  layout: z.record(z.string(), z.unknown()),
  /** xxHash64 of the bytes (16 hex digits). */
  checksum: z.string().regex(/^[0-9a-f]{16}$/),
  /** The block's bytes, base64. */
  bytes: z.base64(),
});

const exportedKv = z.strictObject({
  modelFingerprint: z.string().min(1).max(200),
  /** The exact token history (u32 ids), the last sampled token included. */
  tokens: z.array(z.int().min(0).max(2 ** 32 - 1)),
  computed: z.int().min(0),
  /** The block table in order: full blocks by content name, then the conversation's own tail block, if any. */
  blocks: z.array(exportedBlock),
});

export const conversationExport = z.strictObject({
  format: z.literal(CONVERSATION_EXPORT_FORMAT),
  version: z.literal(CONVERSATION_EXPORT_VERSION),
  exportedAt: z.number(),
  conversation: z.strictObject({
    title: z.string(),
    systemPrompt: z.string(),
    settings: fullGenerationSettings,
    /** The fingerprint of the conversation's model file, when it had one in the exporting library. */
    modelFingerprint: z.string().nullable(),
    createdAt: z.number(),
  }),
  messages: z.array(exportedMessage),
  /** The message ending the branch on screen (a document id); null: the newest. */
  activeLeafId: z.int().min(1).nullable(),
  kv: exportedKv.optional(),
});

export type ConversationExport = z.output<typeof conversationExport>;

/** What an import made (the IPC contract's ConversationImport). */
export type ImportResult = ConversationImport;

const modelFingerprintOf = (db: Db, modelId: string | null): string | null =>
  modelId === null ? null : ((db.prepare('SELECT fingerprint FROM models WHERE id = ?').pluck().get(modelId) as string | undefined) ?? null);

/** The conversation `id` as an export document; with `includeKv`, its saved token history and KV blocks. */
export function exportConversation(db: Db, id: number, opts: { readonly includeKv?: boolean } = {}): ConversationExport {
  const conversations = new ConversationRepository(db);
  const messages = new MessageRepository(db);
  const c = conversations.getConversation(id);
  const all = messages.allMessages(id);
  const doc: ConversationExport = {
    format: CONVERSATION_EXPORT_FORMAT,
    version: CONVERSATION_EXPORT_VERSION,
    exportedAt: Date.now(),
    conversation: { title: c.title, systemPrompt: c.systemPrompt, settings: { ...c.settings }, modelFingerprint: modelFingerprintOf(db, c.modelId), createdAt: c.createdAt },
    messages: all.map((m) => ({
      id: m.id,
      parentId: m.parentId,
      role: m.role,
      content: m.content,
      reasoning: m.reasoning,
      tokenCount: m.tokenCount,
      stats: { ...m.stats },
      status: m.status,
      createdAt: m.createdAt,
    })),
    activeLeafId: all.length > 0 ? messages.activeLeaf(id) : null,
  };
  if (!opts.includeKv) return doc;
  const kv = new KvBlockStore(db);
  const history = kv.conversationTokens(id);
  if (!history) return doc;
  const table = kv.conversationBlocks(id);
  const rows = kv.getBlocks(table);
  const contentNames = contentNamesOf(history, rows.get(table[0] ?? '')?.layout.key);
  const blocks = [];
  for (const [i, name] of table.entries()) {
    const b = rows.get(name);
    if (!b) break; // a block that failed its checksum: the rest of the table is recomputed after import anyway
    // A private block (this chat was imported) travels under its content name; the importer makes it private again.
    const content = contentNames[i];
    const hash = content !== undefined && name === privateBlockName(id, content) ? content : name;
    const layout: Record<string, unknown> = { ...b.layout };
    delete layout.private;
    blocks.push({ hash, layout, checksum: b.checksum, bytes: Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength).toString('base64') });
  }
  return { ...doc, kv: { modelFingerprint: history.modelFingerprint, tokens: history.tokens, computed: history.computed, blocks } };
}

/** The content names of a saved history's full blocks, for the layout key its blocks record (none if unknown). */
function contentNamesOf(history: { readonly modelFingerprint: string; readonly tokens: readonly number[]; readonly computed: number }, layoutKey: unknown): string[] {
  if (typeof layoutKey !== 'string') return [];
  return blockHashChain(blockChainRoot(history.modelFingerprint, layoutKey), history.tokens.slice(0, history.computed));
}

/** Parses and checks an export document (JSON text); a clear StoreError names what is wrong. */
export function parseConversationExport(text: string): ConversationExport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new StoreError('invalid-import', `This file is not JSON: ${(e as Error).message}`);
  }
  const parsed = conversationExport.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new StoreError('invalid-import', `This file is not a KVChat conversation export: ${first.path.join('.') || '(document)'}: ${first.message}`);
  }
  const ids = new Set(parsed.data.messages.map((m) => m.id));
  for (const m of parsed.data.messages) {
    if (m.parentId !== null && (!ids.has(m.parentId) || m.parentId >= m.id)) {
      throw new StoreError('invalid-import', `Message ${m.id} of this file names parent ${m.parentId}, which is not an earlier message of the file`);
    }
  }
  if (parsed.data.activeLeafId !== null && !ids.has(parsed.data.activeLeafId)) {
    throw new StoreError('invalid-import', `The file's active message ${parsed.data.activeLeafId} is not one of its messages`);
  }
  return parsed.data;
}

/**
 * Imports an export document as a new conversation (messages in their tree, the active branch, the settings and
 * system prompt); with KV, keeps the token history and the blocks that pass every check (see the file comment).
 */
export function importConversation(db: Db, doc: ConversationExport): ImportResult {
  const local = doc.conversation.modelFingerprint === null ? undefined : (db.prepare('SELECT id FROM models WHERE fingerprint = ?').pluck().get(doc.conversation.modelFingerprint) as string | undefined);
  const conversations = new ConversationRepository(db);
  const conversation = conversations.createConversation({
    title: doc.conversation.title,
    systemPrompt: doc.conversation.systemPrompt,
    settings: doc.conversation.settings,
    ...(local !== undefined ? { modelId: local } : {}),
  });
  // Each message is appended (and fsynced) as the app appends one; a failure part-way removes the new conversation.
  try {
    const messages = new MessageRepository(db);
    const ids = new Map<number, number>();
    for (const m of [...doc.messages].sort((a, b) => a.id - b.id)) {
      const parentId = m.parentId === null ? null : ids.get(m.parentId)!;
      const id = messages.appendMessage({ conversationId: conversation.id, parentId, role: m.role, content: m.content, reasoning: m.reasoning, status: m.status, tokenCount: m.tokenCount, stats: m.stats });
      ids.set(m.id, id);
    }
    if (doc.activeLeafId !== null) messages.selectBranch(conversation.id, ids.get(doc.activeLeafId)!);
  } catch (e) {
    conversations.deleteConversation(conversation.id);
    throw e;
  }
  if (!doc.kv) return { conversation, kvBlocksImported: 0, kvBlocksRefused: 0 };
  return { conversation, ...importKv(db, conversation.id, doc.kv) };
}

type ExportedKv = NonNullable<ConversationExport['kv']>;

/**
 * The blocks of `kv` that are this library's model's and named by its own history, stored as the new conversation's
 * private blocks (layout.private), except where this machine already holds its own block of that name.
 */
function importKv(db: Db, conversationId: number, kv: ExportedKv): Omit<ImportResult, 'conversation'> {
  const refuse = (reason: string): Omit<ImportResult, 'conversation'> => ({ kvBlocksImported: 0, kvBlocksRefused: kv.blocks.length, kvRefusedReason: reason });
  if (!db.prepare('SELECT 1 FROM models WHERE fingerprint = ?').get(kv.modelFingerprint)) {
    return refuse('the KV cache was computed by a model file that is not in this library; the chat recomputes it when continued');
  }
  if (kv.computed > kv.tokens.length) return refuse('the KV token history is inconsistent (more computed tokens than tokens)');
  const layoutKey = kv.blocks[0]?.layout.key;
  if (typeof layoutKey !== 'string') return refuse('the KV blocks carry no layout');
  // Names are recomputed from the history; the tail block's includes the conversation, so it is renamed for the new one.
  const root = blockChainRoot(kv.modelFingerprint, layoutKey);
  const full = blockHashChain(root, kv.tokens.slice(0, kv.computed));
  const partial = kv.computed % KV_BLOCK_TOKENS !== 0;
  const store = new KvBlockStore(db);
  const computedHere = store.storedHashes(full);
  const names: string[] = []; // the new conversation's block table, as far as the file's blocks pass
  const blocks: KvBlock[] = [];
  for (const [i, b] of kv.blocks.entries()) {
    const isTail = i === full.length && partial && b.layout.tail === true;
    if (b.layout.key !== layoutKey || (i < full.length ? b.hash !== full[i] : !isTail)) break;
    if (!isTail && computedHere.has(b.hash)) {
      names.push(b.hash); // this machine's own K/V for these tokens: the file's bytes are not needed
      continue;
    }
    const hash = isTail ? tailBlockName(root, conversationId, kv.tokens, kv.computed) : privateBlockName(conversationId, b.hash);
    names.push(hash);
    blocks.push({
      hash,
      modelFingerprint: kv.modelFingerprint,
      layout: { ...b.layout, ...(isTail ? { tail: true } : {}), private: true },
      checksum: b.checksum,
      bytes: new Uint8Array(Buffer.from(b.bytes, 'base64')),
    });
  }
  store.putBlocks(blocks);
  const stored = store.storedHashes(names);
  const first = names.findIndex((h) => !stored.has(h));
  const table = first < 0 ? names : names.slice(0, first);
  store.saveConversationKv(conversationId, { modelFingerprint: kv.modelFingerprint, tokens: kv.tokens, computed: kv.computed, blockHashes: table });
  const refused = kv.blocks.length - table.length;
  return {
    kvBlocksImported: table.length,
    kvBlocksRefused: refused,
    ...(refused > 0 ? { kvRefusedReason: `${refused} KV block(s) failed their checksum or name check; they are recomputed when the chat is continued` } : {}),
  };
}

/** The transfer verbs over one database, for main's handlers and the CLI. */
export class ConversationTransfer {
  constructor(private readonly db: Db) {}

  /** The conversation as file text: the JSON document (optionally with its KV), or Markdown to read. */
  exportText(conversationId: number, format: 'json' | 'markdown', opts: { readonly includeKv?: boolean } = {}): string {
    const doc = exportConversation(this.db, conversationId, format === 'json' ? opts : {});
    return format === 'json' ? JSON.stringify(doc) : conversationMarkdown(doc);
  }

  /** Imports an exported JSON document as a new conversation. */
  importText(text: string): ImportResult {
    return importConversation(this.db, parseConversationExport(text));
  }
}
