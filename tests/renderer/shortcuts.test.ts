import { describe, expect, it } from 'vitest';
import { SHORTCUTS, shortcutFor, type KeyPress } from '../../src/renderer/src/components/shortcuts';

const press = (key: string, mods: Partial<Omit<KeyPress, 'key'>> = {}): KeyPress => ({ key, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, typing: false, ...mods });

describe('shortcutFor', () => {
  it('maps each listed shortcut, with Ctrl or ⌘ as Mod', () => {
    expect(shortcutFor(press('O', { ctrlKey: true, shiftKey: true }))).toBe('new-chat');
    expect(shortcutFor(press('o', { metaKey: true, shiftKey: true }))).toBe('new-chat');
    expect(shortcutFor(press('k', { ctrlKey: true }))).toBe('search');
    expect(shortcutFor(press('Escape', { shiftKey: true }))).toBe('focus-composer');
    expect(shortcutFor(press('Enter', { ctrlKey: true, shiftKey: true }))).toBe('regenerate');
    expect(shortcutFor(press('ArrowUp', { altKey: true }))).toBe('previous-chat');
    expect(shortcutFor(press('ArrowDown', { altKey: true }))).toBe('next-chat');
    expect(shortcutFor(press('L', { ctrlKey: true, shiftKey: true }))).toBe('toggle-inspector');
    expect(shortcutFor(press('/', { ctrlKey: true }))).toBe('shortcuts');
    expect(shortcutFor(press('?', { shiftKey: true }))).toBe('shortcuts');
  });

  it('leaves typing alone: a bare "?" in a text field, plain keys, Enter, and Esc (the answer hook stops with it)', () => {
    expect(shortcutFor(press('?', { shiftKey: true, typing: true }))).toBeNull();
    expect(shortcutFor(press('k'))).toBeNull();
    expect(shortcutFor(press('Enter'))).toBeNull();
    expect(shortcutFor(press('Escape'))).toBeNull();
    expect(shortcutFor(press('ArrowUp'))).toBeNull();
  });

  it('every action has one line in the sheet', () => {
    const actions = SHORTCUTS.map((s) => s.action);
    expect(new Set(actions).size).toBe(actions.length);
  });
});
