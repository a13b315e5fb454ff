// Linked model folders in app_state: added once, removed, a deleted model's file dismissed only in the folders that
// hold it, and a damaged entry read as no folders.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isInFolder, LinkedFolderStore } from '../../src/store/linked-folders';
import { openDatabase } from '../../src/store/database';
import { closeLater, tempDir } from '../helpers/temp';

function store(): { links: LinkedFolderStore; file: string } {
  const file = join(tempDir(), 'links.sqlite');
  return { links: new LinkedFolderStore(closeLater(openDatabase(file))), file };
}

describe('LinkedFolderStore', () => {
  it('links a folder once, remembers it across reopening, and unlinks it', () => {
    const { links, file } = store();
    expect(links.list()).toEqual([]);
    links.add('/data/models/');
    links.add('/data/models');
    links.add('/mnt/usb/gguf');
    const again = new LinkedFolderStore(closeLater(openDatabase(file)));
    expect(again.list()).toEqual([
      { path: '/data/models', dismissed: [] },
      { path: '/mnt/usb/gguf', dismissed: [] },
    ]);
    expect(again.remove('/data/models')).toBe(true);
    expect(again.remove('/data/models')).toBe(false);
    expect(again.list().map((r) => r.path)).toEqual(['/mnt/usb/gguf']);
  });

  it('dismisses a deleted model in the folders holding it, once, and keeps the dismissal when linked again', () => {
    const { links } = store();
    links.add('/data/models');
    links.add('/data/models/llama');
    links.add('/data/other');
    links.dismiss('/data/models/llama/a.gguf');
    links.dismiss('/data/models/llama/a.gguf');
    links.dismiss('/elsewhere/b.gguf'); // in no linked folder: nothing to remember
    expect(links.list()).toEqual([
      { path: '/data/models', dismissed: ['/data/models/llama/a.gguf'] },
      { path: '/data/models/llama', dismissed: ['/data/models/llama/a.gguf'] },
      { path: '/data/other', dismissed: [] },
    ]);
    expect(links.add('/data/models').dismissed).toEqual(['/data/models/llama/a.gguf']);
  });

  it('reads a damaged entry as no linked folders', () => {
    const db = closeLater(openDatabase(join(tempDir(), 'links.sqlite')));
    db.prepare("INSERT INTO app_state (key, value) VALUES ('linked_model_folders', '{not json')").run();
    expect(new LinkedFolderStore(db).list()).toEqual([]);
    db.prepare("UPDATE app_state SET value = '[{\"path\":3},{\"path\":\"/ok\",\"dismissed\":[1,\"/ok/x.gguf\"]}]' WHERE key = 'linked_model_folders'").run();
    expect(new LinkedFolderStore(db).list()).toEqual([{ path: '/ok', dismissed: ['/ok/x.gguf'] }]);
  });

  it('isInFolder: the folder itself and what lies below it, not a sibling with the same prefix', () => {
    expect(isInFolder('/a/models', '/a/models/x.gguf')).toBe(true);
    expect(isInFolder('/a/models', '/a/models/sub/x.gguf')).toBe(true);
    expect(isInFolder('/a/models/', '/a/models')).toBe(true);
    expect(isInFolder('/a/models', '/a/models-old/x.gguf')).toBe(false);
  });
});
