// A second process writing to the store, for the concurrency and crash tests. Run with `node --import tsx`.
//   append <db> <conversationId> <count>  appends messages (count 0: until killed), printing "committed <id>"
//                                          after each commit
//   kv <db> <conversationId>               saves a growing conversation's KV as the app does (blocks, then its
//                                          token history and block table) until killed, printing "saved <n>"
//   hold <db> <ms>                         takes the write lock, prints "locked", holds it <ms>, commits, prints "released"
import { openDatabase } from '../../../src/store/database';
import { MessageRepository } from '../../../src/store/messages';
import { KvBlockStore } from '../../../src/store/kv-store';
import { blockHashChain } from '../../../src/gpu/kv/hash';
import { blockChecksum } from '../../../src/store/block-checksum';

const [mode, file, ...args] = process.argv.slice(2);
const db = openDatabase(file!);

if (mode === 'append') {
  const messages = new MessageRepository(db);
  const conversationId = Number(args[0]);
  const count = Number(args[1]);
  // A long message makes each commit write several pages, so a kill can land inside one.
  const body = 'The quick brown fox jumps over the lazy dog. '.repeat(200);
  let parentId: number | null = null;
  for (let i = 0; count === 0 || i < count; i++) {
    parentId = messages.appendMessage({ conversationId, parentId, role: i % 2 ? 'assistant' : 'user', content: `${i} ${body}` });
    process.stdout.write(`committed ${parentId}\n`);
  }
  db.close();
} else if (mode === 'kv') {
  const kv = new KvBlockStore(db);
  const conversationId = Number(args[0]);
  const fingerprint = 'ab'.repeat(32);
  const tokens: number[] = [];
  for (let n = 1; ; n++) {
    // 16 more tokens a turn: one more full block of 64 KiB (a kill can land inside its write).
    for (let i = 0; i < 16; i++) tokens.push((n * 31 + i * 7) % 500);
    const hashes = blockHashChain(fingerprint, tokens);
    const bytes = new Uint8Array(65536).fill(n & 0xff);
    kv.putBlocks([{ hash: hashes.at(-1)!, modelFingerprint: fingerprint, layout: { key: 'f32:test' }, checksum: blockChecksum(bytes), bytes }]);
    kv.saveConversationKv(conversationId, { modelFingerprint: fingerprint, tokens, computed: tokens.length, blockHashes: hashes });
    process.stdout.write(`saved ${hashes.length}\n`);
  }
} else if (mode === 'hold') {
  const ms = Number(args[0]);
  db.prepare('BEGIN IMMEDIATE').run();
  db.prepare("INSERT INTO conversations (title, created_at, updated_at) VALUES ('from the other process', 0, 0)").run();
  process.stdout.write('locked\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  db.prepare('COMMIT').run();
  process.stdout.write('released\n');
  db.close();
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
