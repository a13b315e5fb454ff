// Every schema migration, in order. A new one is a new numbered file appended here; never edit a shipped one.
import { initial } from './001_initial';
import { search } from './002_search';
import { kvBlocks } from './003_kv_blocks';
import { conversationTokens } from './004_conversation_tokens';
import { remoteProviders } from './005_remote_providers';
import { modelDownloads } from './006_model_downloads';
import { messageReasoning } from './007_message_reasoning';
import { sha256BlockNames } from './008_sha256_block_names';
import { conversationPins } from './009_conversation_pins';
import type { Migration } from './types';

export type { Migration } from './types';

export const MIGRATIONS: readonly Migration[] = [initial, search, kvBlocks, conversationTokens, remoteProviders, modelDownloads, messageReasoning, sha256BlockNames, conversationPins];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
