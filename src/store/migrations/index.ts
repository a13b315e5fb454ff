// Every schema migration, in order. A new one is a new numbered file appended here; never edit a shipped one.
import { initial } from './001_initial';
import { search } from './002_search';
import { kvBlocks } from './003_kv_blocks';
import { conversationTokens } from './004_conversation_tokens';
import { remoteProviders } from './005_remote_providers';
import { modelDownloads } from './006_model_downloads';
import type { Migration } from './types';

export type { Migration } from './types';

export const MIGRATIONS: readonly Migration[] = [initial, search, kvBlocks, conversationTokens, remoteProviders, modelDownloads];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
