// A chat's reasoning effort (gpt-oss's reasoning_effort) is kept with its settings like the thinking switch:
// absent until chosen (the template's default), changed alone, kept across other changes, refused when not a level.
import { describe, expect, it } from 'vitest';
import { generationSettings } from '../../src/shared/api-schemas';
import { ConversationRepository } from '../../src/store/conversations';
import { tempDb } from '../helpers/temp';

describe('reasoning effort in the chat settings', () => {
  it('is stored, read back, and kept when other settings change', () => {
    const conversations = new ConversationRepository(tempDb().db);
    const c = conversations.createConversation();
    expect(c.settings.reasoningEffort).toBeUndefined();
    expect(conversations.updateSettings(c.id, { settings: { reasoningEffort: 'high' } }).settings.reasoningEffort).toBe('high');
    expect(conversations.updateSettings(c.id, { settings: { temperature: 0.3, thinking: false } }).settings).toMatchObject({ reasoningEffort: 'high', thinking: false, temperature: 0.3 });
    expect(conversations.getConversation(c.id).settings.reasoningEffort).toBe('high');
    expect(conversations.updateSettings(c.id, { settings: { reasoningEffort: 'low' } }).settings.reasoningEffort).toBe('low');
  });

  it('a new chat may start with one', () => {
    const conversations = new ConversationRepository(tempDb().db);
    const c = conversations.createConversation({ settings: { reasoningEffort: 'medium' } });
    expect(conversations.getConversation(c.id).settings.reasoningEffort).toBe('medium');
  });

  it('the API schema takes the three levels only', () => {
    expect(generationSettings.safeParse({ reasoningEffort: 'low' }).success).toBe(true);
    expect(generationSettings.safeParse({ reasoningEffort: 'max' }).success).toBe(false);
  });
});
