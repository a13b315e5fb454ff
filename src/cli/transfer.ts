// npm run -s transfer -- --session DB --conversation NAME [--markdown] [--kv] [--out FILE]
//   exports the conversation titled NAME (every branch, settings, system prompt) as JSON (with --kv: its KV
//   blocks too) or Markdown, to FILE or stdout;
// npm run -s transfer -- --session DB --import FILE
//   imports an exported JSON file as a new conversation and prints what it kept as JSON.
import { readFile, writeFile } from 'node:fs/promises';
import { ConversationRepository } from '../store/conversations';
import { ConversationTransfer } from '../store/conversation-transfer';
import { openDatabase } from '../store/database';
import { Args, UsageError, runMain } from './args';

async function main(): Promise<void> {
  const args = new Args(process.argv.slice(2), new Set(['markdown', 'kv']), new Set(['session', 'conversation', 'out', 'import']));
  const db = openDatabase(args.required('session'));
  try {
    const transfer = new ConversationTransfer(db);
    const from = args.string('import');
    if (from !== undefined) {
      const r = transfer.importText(await readFile(from, 'utf8'));
      process.stdout.write(`${JSON.stringify({ conversationId: r.conversation.id, title: r.conversation.title, kvBlocksImported: r.kvBlocksImported, kvBlocksRefused: r.kvBlocksRefused, ...(r.kvRefusedReason ? { kvRefusedReason: r.kvRefusedReason } : {}) })}\n`);
      return;
    }
    const name = args.required('conversation');
    const c = new ConversationRepository(db).listConversations().find((x) => x.title === name);
    if (!c) throw new UsageError(`no conversation titled "${name}" in ${db.name}`);
    const text = transfer.exportText(c.id, args.flag('markdown') ? 'markdown' : 'json', { includeKv: args.flag('kv') });
    const out = args.string('out');
    if (out !== undefined) await writeFile(out, text);
    else process.stdout.write(text);
  } finally {
    db.close();
  }
}

runMain(main);
