// A damaged database at start: real SQLite files whose pages were overwritten with garbage, and a file that is not
// SQLite at all, are found by the read-only check, moved aside byte for byte (with -wal/-shm) when the user agrees,
// and replaced by a fresh database; refused, nothing changes. A newer KVChat's database is still refused untouched.
import { existsSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync, closeSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openApiServices } from '../../src/main/api-handlers';
import { ConversationRepository } from '../../src/store/conversations';
import { schemaVersion } from '../../src/store/database';
import { asideNameFor, findDatabaseDamage, openDatabaseOrSetAside, type DamagedDatabase } from '../../src/store/damaged-database';
import { StoreError } from '../../src/store/errors';
import { KvBlockStore } from '../../src/store/kv-store';
import { MessageRepository } from '../../src/store/messages';
import { LATEST_SCHEMA_VERSION } from '../../src/store/migrations';
import { AesGcmCipher } from '../main/remote/helpers/fixtures';
import { closeLater, tempDb, tempDir } from '../helpers/temp';

const AT = new Date('2025-01-31T10:20:30.000Z');
const PAGE_BYTES = 4096; // SQLite's default page size

/** A closed database with 120 messages of ~1 KiB (many pages), returned with its page count. */
function filledDatabase(): { file: string; dir: string; pages: number } {
  const { db, file, dir } = tempDb();
  const conversationId = new ConversationRepository(db).createConversation({ title: 'kept' }).id;
  const messages = new MessageRepository(db);
  let parentId: number | null = null;
  for (let i = 0; i < 120; i++) {
    parentId = messages.appendMessage({ conversationId, parentId, role: i % 2 ? 'assistant' : 'user', content: `${i} ${'words to keep '.repeat(80)}` });
  }
  db.close();
  return { file, dir, pages: statSync(file).size / PAGE_BYTES };
}

/** Overwrites pages [first, last) of `file` with bytes that are not a b-tree page. */
function garblePages(file: string, first: number, last: number): void {
  const fd = openSync(file, 'r+');
  const garbage = Buffer.alloc(PAGE_BYTES);
  for (let p = first; p < last; p++) {
    for (let i = 0; i < PAGE_BYTES; i++) garbage[i] = (p * 131 + i * 17) & 0xff;
    writeSync(fd, garbage, 0, PAGE_BYTES, p * PAGE_BYTES);
  }
  closeSync(fd);
}

function openAgreeing(file: string) {
  const asked: DamagedDatabase[] = [];
  const opened = openDatabaseOrSetAside(file, { now: () => AT, startFresh: (d) => (asked.push(d), true) });
  closeLater(opened.db);
  return { ...opened, asked };
}

describe('openDatabaseOrSetAside', () => {
  it('opens a sound database without asking anything', () => {
    const { file } = filledDatabase();
    const { db, setAside, asked } = openAgreeing(file);
    expect(setAside).toBeNull();
    expect(asked).toEqual([]);
    expect(new ConversationRepository(db).listConversations().map((c) => c.title)).toEqual(['kept']);
  });

  it("reads past the KV blocks' pages at start (each block has its own checksum), so a start costs the chat text, not GiBs of KV", () => {
    const { db, file } = tempDb();
    const conversationId = new ConversationRepository(db).createConversation({ title: 'kept' }).id;
    new MessageRepository(db).appendMessage({ conversationId, parentId: null, role: 'user', content: 'hello' });
    const blocks = Array.from({ length: 24 }, (_, i) => ({ hash: i.toString(16).padStart(64, '0'), modelFingerprint: 'm', layout: { key: 'l' }, bytes: new Uint8Array(8192).fill(i) }));
    new KvBlockStore(db).putBlocks(blocks);
    const kvPages = (db.prepare("SELECT pageno FROM dbstat WHERE name = 'kv_blocks' AND pagetype IN ('leaf', 'overflow')").all() as { pageno: number }[]).map((r) => r.pageno);
    db.close();
    expect(kvPages.length).toBeGreaterThan(24);
    for (const p of kvPages) garblePages(file, p - 1, p);
    expect(findDatabaseDamage(file)).toBeNull();
    const { db: opened, setAside, asked } = openAgreeing(file);
    expect([setAside, asked]).toEqual([null, []]);
    expect(new ConversationRepository(opened).listConversations().map((c) => c.title)).toEqual(['kept']);
  });

  it('creates a database that does not exist yet', () => {
    const file = join(tempDir(), 'kvchat.sqlite');
    const { db, setAside } = openAgreeing(file);
    expect(setAside).toBeNull();
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
  });

  it('moves a database with garbage pages aside, byte for byte, and starts with a fresh one', () => {
    const { file, dir, pages } = filledDatabase();
    garblePages(file, 2, pages);
    const original = readFileSync(file);
    expect(findDatabaseDamage(file)).not.toBeNull();

    const { db, setAside, asked } = openAgreeing(file);
    const aside = join(dir, 'kvchat.corrupt-2025-01-31T10-20-30-000Z.sqlite');
    expect(asked).toEqual([{ file, asideFile: aside, problem: expect.stringMatching(/malformed|corrupt|page|tree|wrong/i) }]);
    expect(setAside).toMatchObject({ file, asideFile: aside });
    expect(setAside!.movedFiles[0]).toBe(aside);
    expect(readFileSync(aside).equals(original)).toBe(true);
    // The fresh database is where the app looks, empty and migrated.
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    expect(new ConversationRepository(db).listConversations()).toEqual([]);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  it('moves the -wal and -shm with it, so the fresh database never reads a stale log', () => {
    const { file, dir, pages } = filledDatabase();
    garblePages(file, 1, pages);
    writeFileSync(`${file}-wal`, 'a write-ahead log of the damaged file');
    writeFileSync(`${file}-shm`, Buffer.alloc(32768, 7));
    const copies = ['', '-wal'].map((s) => readFileSync(file + s));

    const { setAside } = openAgreeing(file);
    const aside = setAside!.asideFile;
    expect(setAside!.movedFiles).toEqual([aside, `${aside}-wal`, `${aside}-shm`]);
    // The -shm is SQLite's scratch index of the log, rebuilt by every connection (the check's too): not compared.
    ['', '-wal'].forEach((s, i) => expect(readFileSync(aside + s).equals(copies[i]!), `${aside}${s}`).toBe(true));
    expect(readdirSync(dir).filter((f) => f.includes('corrupt')).sort()).toEqual(['', '-shm', '-wal'].map((s) => `kvchat.corrupt-2025-01-31T10-20-30-000Z.sqlite${s}`));
  });

  it('moves a file that is not SQLite at all aside', () => {
    const dir = tempDir();
    const file = join(dir, 'kvchat.sqlite');
    const notSqlite = Buffer.from('These are my notes, saved over the database by mistake.\n'.repeat(300));
    writeFileSync(file, notSqlite);
    const { db, setAside, asked } = openAgreeing(file);
    expect(asked[0]!.problem).toMatch(/not a database/);
    expect(readFileSync(setAside!.asideFile).equals(notSqlite)).toBe(true);
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
  });

  it('leaves a damaged database exactly as it was when the user declines', () => {
    const { file, dir, pages } = filledDatabase();
    garblePages(file, 2, pages);
    const original = readFileSync(file);
    let err: unknown;
    try {
      openDatabaseOrSetAside(file, { now: () => AT, startFresh: () => false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'database-damaged', message: expect.stringContaining(file) });
    expect(readFileSync(file).equals(original)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('corrupt'))).toEqual([]);
  });

  it('still refuses a database from a newer KVChat without touching or moving it', () => {
    const { db, file, dir } = tempDb();
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    db.close();
    const original = readFileSync(file);
    const asked: DamagedDatabase[] = [];
    expect(() => openDatabaseOrSetAside(file, { startFresh: (d) => (asked.push(d), true) })).toThrow(expect.objectContaining({ code: 'database-too-new' }));
    expect(asked).toEqual([]);
    expect(readFileSync(file).equals(original)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('corrupt'))).toEqual([]);
  });

  it('names the aside file beside the database, with a counter when the name is taken', () => {
    const dir = tempDir();
    const file = join(dir, 'kvchat.sqlite');
    const first = asideNameFor(file, AT);
    expect(first).toBe(join(dir, 'kvchat.corrupt-2025-01-31T10-20-30-000Z.sqlite'));
    writeFileSync(first, 'taken');
    expect(asideNameFor(file, AT)).toBe(join(dir, 'kvchat.corrupt-2025-01-31T10-20-30-000Z-2.sqlite'));
  });
});

describe('openApiServices with a damaged database', () => {
  const options = (dir: string) => ({
    databaseFile: join(dir, 'kvchat.sqlite'),
    modelsDir: join(dir, 'models'),
    appInfo: () => ({ name: 'KVChat', version: '0.1.0', platform: 'linux', electron: '', chrome: '' }),
    pickModelFile: async () => null,
    cipher: new AesGcmCipher(),
  });

  it('starts on a fresh database when the user agrees, and says where the damaged one went', () => {
    const { file, dir, pages } = filledDatabase();
    garblePages(file, 2, pages);
    const kept = join(dir, 'before.sqlite');
    copyFileSync(file, kept);
    const services = openApiServices({ ...options(dir), startFreshOnDamage: () => true });
    closeLater(services.db);
    expect(services.recovery.databaseSetAside?.asideFile).toMatch(/kvchat\.corrupt-.*\.sqlite$/);
    expect(readFileSync(services.recovery.databaseSetAside!.asideFile).equals(readFileSync(kept))).toBe(true);
    expect(services.conversations.listConversations()).toEqual([]);
  });

  it('opens nothing and changes nothing when the user declines (or no one is asked)', () => {
    const { file, dir, pages } = filledDatabase();
    garblePages(file, 2, pages);
    const original = readFileSync(file);
    expect(() => openApiServices(options(dir))).toThrow(expect.objectContaining({ code: 'database-damaged' }));
    expect(() => openApiServices({ ...options(dir), startFreshOnDamage: () => false })).toThrow(expect.objectContaining({ code: 'database-damaged' }));
    expect(readFileSync(file).equals(original)).toBe(true);
    expect(existsSync(join(dir, 'models'))).toBe(false);
  });
});
