// A conversation export as Markdown, for reading and sharing (the JSON document is what imports back): the title,
// the system prompt and settings, the branch on screen as the transcript, then every other branch from the
// message where it parts, so each message appears exactly once.
import type { ConversationExport } from './conversation-transfer';

type ExportedMessage = ConversationExport['messages'][number];

const ROLE: Record<ExportedMessage['role'], string> = { system: 'System', user: 'User', assistant: 'Assistant' };

/** A block quote of `text`, each line prefixed (an empty line stays part of the quote). */
const quote = (text: string): string =>
  text
    .split('\n')
    .map((l) => (l ? `> ${l}` : '>'))
    .join('\n');

function renderMessage(m: ExportedMessage): string {
  const parts = [`### ${ROLE[m.role]}${m.status !== 'complete' ? ` (${m.status})` : ''}`];
  if (m.reasoning) parts.push(`<details><summary>Reasoning</summary>\n\n${m.reasoning}\n\n</details>`);
  parts.push(m.content);
  return parts.join('\n\n');
}

/** Root-first path to `leaf`. */
function pathTo(byId: ReadonlyMap<number, ExportedMessage>, leaf: number): ExportedMessage[] {
  const path: ExportedMessage[] = [];
  for (let m = byId.get(leaf); m; m = m.parentId === null ? undefined : byId.get(m.parentId)) path.unshift(m);
  return path;
}

export function conversationMarkdown(doc: ConversationExport): string {
  const { conversation: c, messages } = doc;
  const byId = new Map(messages.map((m) => [m.id, m]));
  const parents = new Set(messages.map((m) => m.parentId));
  const leaves = messages.filter((m) => !parents.has(m.id)).map((m) => m.id);
  const active = doc.activeLeafId ?? leaves.at(-1);
  const ordered = active === undefined ? leaves : [active, ...leaves.filter((l) => l !== active)];

  const s = c.settings;
  const out = [
    `# ${c.title}`,
    `Exported from KVChat on ${new Date(doc.exportedAt).toISOString()}.`,
    `Settings: temperature ${s.temperature}, top-p ${s.topP}, top-k ${s.topK}, min-p ${s.minP}, repeat penalty ${s.repeatPenalty}, ` +
      `max tokens ${s.maxTokens}, seed ${s.seed ?? 'random'}, context ${s.contextPolicy}.`,
  ];
  if (c.systemPrompt) out.push(`## System prompt\n\n${quote(c.systemPrompt)}`);
  const shown = new Set<number>();
  ordered.forEach((leaf, i) => {
    const path = pathTo(byId, leaf);
    const fresh = path.filter((m) => !shown.has(m.id));
    if (fresh.length === 0) return;
    const from = fresh[0]!.parentId;
    const heading = i === 0 ? '## Conversation' : `## Another branch${from === null ? ', from the start' : `, after: "${snippet(byId.get(from)!.content)}"`}`;
    out.push(heading, ...fresh.map(renderMessage));
    for (const m of fresh) shown.add(m.id);
  });
  return `${out.join('\n\n')}\n`;
}

const snippet = (text: string): string => {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
};
