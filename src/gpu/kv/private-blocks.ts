// Names of a conversation's private full blocks: K/V that came from outside this machine's own computation (an
// imported chat's blocks) or were computed on top of such K/V. They are kept and found only under a name bound to
// their conversation, never under the content name a prefix lookup computes, so bytes nobody here computed can
// never seed another conversation's prefix (the GPU pool, host RAM or the store all key blocks by name).
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/**
 * The name under which conversation `conversationId` keeps its private copy of the block whose content name is
 * `contentName` (64 hex digits). The hashed message starts with a non-hex character, so it can never equal a content
 * name's message (which starts with the 64 hex digits of a parent name).
 */
export function privateBlockName(conversationId: number, contentName: string): string {
  return bytesToHex(sha256(utf8ToBytes(`private kv block\0conversation ${conversationId}\0${contentName}`)));
}
