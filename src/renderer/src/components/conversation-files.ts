// File names and types of exported conversations (the ConversationTransfer component's pure part).

export type ExportFormat = 'json' | 'markdown';

const EXTENSION: Record<ExportFormat, string> = { json: 'kvchat.json', markdown: 'md' };
const MIME: Record<ExportFormat, string> = { json: 'application/json', markdown: 'text/markdown' };

/** A file name from the conversation's title: letters, digits, dashes; never empty, never a path. */
export function exportFileName(title: string, format: ExportFormat): string {
  const base =
    title
      .normalize('NFKD')
      .replace(/[^\p{L}\p{N}]+/gu, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'conversation';
  return `${base}.${EXTENSION[format]}`;
}

export const exportMimeType = (format: ExportFormat): string => MIME[format];
