import { describe, expect, it } from 'vitest';
import { exportFileName, exportMimeType } from '../../../src/renderer/src/components/conversation-files';

describe('exported conversation files', () => {
  it('are named from the title, safely, with the format\'s extension', () => {
    expect(exportFileName('Trip to Lisbon', 'json')).toBe('Trip-to-Lisbon.kvchat.json');
    expect(exportFileName('../../etc/passwd', 'markdown')).toBe('etc-passwd.md');
    expect(exportFileName('Café — notes?', 'markdown')).toBe('Cafe-notes.md');
    expect(exportFileName('   ', 'json')).toBe('conversation.kvchat.json');
    expect(exportFileName('x'.repeat(300), 'json')).toHaveLength(80 + '.kvchat.json'.length);
    expect(exportMimeType('json')).toBe('application/json');
  });
});
