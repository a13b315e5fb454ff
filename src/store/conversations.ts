// Conversations: a title, the model it talks to, a system prompt and sampling settings. Listed newest
// activity first; deleting one removes its messages and block table with it (foreign-key cascades).
import { DEFAULT_GENERATION_SETTINGS, type Conversation, type GenerationSettings } from '../shared/api';
import { now, writeTransaction, type Db } from './database';
import { StoreError } from './errors';

export const DEFAULT_CONVERSATION_TITLE = 'New conversation';

interface ConversationRow {
  id: number;
  title: string;
  model_id: string | null;
  system_prompt: string;
  settings: string;
  active_leaf_id: number | null;
  /** 0 or 1 (migration 009). */
  pinned: number;
  created_at: number;
  updated_at: number;
}

/** The settings column, as the schema names its keys. */
interface SettingsJson {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  repeat_penalty?: number;
  max_tokens?: number;
  seed?: number | null;
  context_policy?: GenerationSettings['contextPolicy'];
  thinking?: boolean;
  reasoning_effort?: GenerationSettings['reasoningEffort'];
}

function settingsToJson(s: GenerationSettings): string {
  const json: SettingsJson = {
    temperature: s.temperature,
    top_p: s.topP,
    top_k: s.topK,
    min_p: s.minP,
    repeat_penalty: s.repeatPenalty,
    max_tokens: s.maxTokens,
    seed: s.seed,
    context_policy: s.contextPolicy,
    ...(s.thinking !== undefined ? { thinking: s.thinking } : {}),
    ...(s.reasoningEffort !== undefined ? { reasoning_effort: s.reasoningEffort } : {}),
  };
  return JSON.stringify(json);
}

/** Keys missing from an older row take today's defaults. */
function settingsFromJson(text: string): GenerationSettings {
  const j = JSON.parse(text) as SettingsJson;
  const d = DEFAULT_GENERATION_SETTINGS;
  return {
    temperature: j.temperature ?? d.temperature,
    topP: j.top_p ?? d.topP,
    topK: j.top_k ?? d.topK,
    minP: j.min_p ?? d.minP,
    repeatPenalty: j.repeat_penalty ?? d.repeatPenalty,
    maxTokens: j.max_tokens ?? d.maxTokens,
    seed: j.seed === undefined ? d.seed : j.seed,
    contextPolicy: j.context_policy ?? d.contextPolicy,
    ...(j.thinking !== undefined ? { thinking: j.thinking } : {}),
    ...(j.reasoning_effort !== undefined ? { reasoningEffort: j.reasoning_effort } : {}),
  };
}

/** The keys of a partial update that carry a value (an IPC payload may hold explicit undefined). */
export function definedOnly<T extends object>(partial: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(partial ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function toConversation(r: ConversationRow): Conversation {
  return {
    id: r.id,
    title: r.title,
    modelId: r.model_id,
    systemPrompt: r.system_prompt,
    settings: settingsFromJson(r.settings),
    pinned: r.pinned === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface NewConversation {
  readonly title?: string;
  readonly modelId?: string | null;
  readonly systemPrompt?: string;
  readonly settings?: Partial<GenerationSettings>;
}

export interface ConversationChanges {
  readonly settings?: Partial<GenerationSettings>;
  readonly systemPrompt?: string;
  readonly modelId?: string | null;
}

export class ConversationRepository {
  constructor(private readonly db: Db) {}

  createConversation(c: NewConversation = {}): Conversation {
    return writeTransaction(this.db, () => {
      const modelId = c.modelId ?? null;
      this.requireModel(modelId);
      const settings = { ...DEFAULT_GENERATION_SETTINGS, ...definedOnly(c.settings) };
      const t = now();
      const { lastInsertRowid } = this.db
        .prepare(
          `INSERT INTO conversations (title, model_id, system_prompt, settings, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(normalizeTitle(c.title), modelId, c.systemPrompt ?? '', settingsToJson(settings), t, t);
      return this.getConversation(Number(lastInsertRowid));
    });
  }

  getConversation(id: number): Conversation {
    return toConversation(this.row(id));
  }

  /** Most recently active first. */
  listConversations(): Conversation[] {
    const rows = this.db.prepare('SELECT * FROM conversations ORDER BY updated_at DESC, id DESC').all() as ConversationRow[];
    return rows.map(toConversation);
  }

  renameConversation(id: number, title: string): Conversation {
    return writeTransaction(this.db, () => {
      this.row(id);
      this.db.prepare('UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?').run(normalizeTitle(title), now(), id);
      return this.getConversation(id);
    });
  }

  /** Removes the conversation, its whole message tree and its KV block table. */
  deleteConversation(id: number): void {
    writeTransaction(this.db, () => {
      const { changes } = this.db.prepare('DELETE FROM conversations WHERE id = ?').run(id);
      if (changes === 0) throw notFound(id);
    });
  }

  /**
   * Pins the conversation to the top of the list (or unpins it). Not an activity: its place among the unpinned ones
   * (updated_at) stays as it was.
   */
  setPinned(id: number, pinned: boolean): Conversation {
    return writeTransaction(this.db, () => {
      const { changes } = this.db.prepare('UPDATE conversations SET pinned = ? WHERE id = ?').run(pinned ? 1 : 0, id);
      if (changes === 0) throw notFound(id);
      return this.getConversation(id);
    });
  }

  /** Merges `changes.settings` into the stored settings; other fields replace theirs when given. */
  updateSettings(id: number, changes: ConversationChanges): Conversation {
    return writeTransaction(this.db, () => {
      const current = this.getConversation(id);
      if (changes.modelId !== undefined) this.requireModel(changes.modelId);
      const settings = { ...current.settings, ...definedOnly(changes.settings) };
      this.db
        .prepare('UPDATE conversations SET settings = ?, system_prompt = ?, model_id = ?, updated_at = ? WHERE id = ?')
        .run(
          settingsToJson(settings),
          changes.systemPrompt ?? current.systemPrompt,
          changes.modelId === undefined ? current.modelId : changes.modelId,
          now(),
          id,
        );
      return this.getConversation(id);
    });
  }

  private row(id: number): ConversationRow {
    const r = this.db.prepare('SELECT * FROM conversations WHERE id = ?').get(id) as ConversationRow | undefined;
    if (!r) throw notFound(id);
    return r;
  }

  private requireModel(modelId: string | null): void {
    if (modelId === null) return;
    if (!this.db.prepare('SELECT 1 FROM models WHERE id = ?').get(modelId)) {
      throw new StoreError('model-not-found', `No model with id ${modelId} is in the library (was it deleted?)`);
    }
  }
}

function normalizeTitle(title: string | undefined): string {
  const t = (title ?? '').replace(/\s+/g, ' ').trim();
  return t === '' ? DEFAULT_CONVERSATION_TITLE : t;
}

export function notFound(id: number): StoreError {
  return new StoreError('conversation-not-found', `Conversation ${id} does not exist (it may have been deleted)`);
}
