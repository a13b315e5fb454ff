// One message of the active thread: Markdown for answers (after their collapsible "Thinking" when the model
// reasoned), branch arrows "< 2/3 >" when it has siblings, and its actions (copy; edit for a question, regenerate
// for an answer).
import { useState } from 'react';
import type { ThreadMessage } from '../../../shared/api';
import { MarkdownView } from './MarkdownView';
import { ThinkingView } from './ThinkingView';
import './thinking.css';

export interface MessageProps {
  /** `reasoning` may be left out (an answer that is streaming without any, a question). */
  readonly message: Pick<ThreadMessage, 'id' | 'role' | 'content' | 'status' | 'siblingIds' | 'stats'> & { readonly reasoning?: string };
  readonly streaming?: boolean;
  readonly busy: boolean;
  readonly onSelectSibling: (id: number) => void;
  readonly onRegenerate: () => void;
  readonly onEdit: (content: string) => void;
  /** Given for an answer that can be continued (a remote chat's incomplete answer): a Continue button. */
  readonly onContinue?: () => void;
  /** False where a question cannot be edited and re-asked (remote chats); default true. */
  readonly editable?: boolean;
}

function BranchArrows({ ids, current, onSelect }: { ids: readonly number[]; current: number; onSelect: (id: number) => void }) {
  const i = ids.indexOf(current);
  if (ids.length < 2 || i < 0) return null;
  return (
    <span className="branches">
      <button data-testid="branch-prev" disabled={i === 0} onClick={() => onSelect(ids[i - 1]!)} aria-label="Previous version">
        ‹
      </button>
      <span data-testid="branch-pos">
        {i + 1}/{ids.length}
      </span>
      <button data-testid="branch-next" disabled={i === ids.length - 1} onClick={() => onSelect(ids[i + 1]!)} aria-label="Next version">
        ›
      </button>
    </span>
  );
}

export function MessageView({ message, streaming, busy, onSelectSibling, onRegenerate, onEdit, onContinue, editable = true }: MessageProps) {
  const [editing, setEditing] = useState<string | null>(null);
  const status = streaming ? 'streaming' : message.status;
  return (
    <article className={`message ${message.role}`} data-testid={`message-${message.role}`} data-status={status}>
      {editing !== null ? (
        <div className="edit">
          <textarea data-testid="edit-input" value={editing} onChange={(e) => setEditing(e.target.value)} />
          <button
            data-testid="edit-save"
            disabled={busy || editing.trim() === ''}
            onClick={() => {
              onEdit(editing);
              setEditing(null);
            }}
          >
            Save &amp; send
          </button>
          <button onClick={() => setEditing(null)}>Cancel</button>
        </div>
      ) : message.role === 'assistant' ? (
        <>
          {message.reasoning ? <ThinkingView text={message.reasoning} streaming={!!streaming} thinking={!!streaming && message.content === ''} /> : null}
          <div className="content markdown" data-testid="message-content">
            <MarkdownView text={message.content} done={!streaming} />
          </div>
        </>
      ) : (
        <div className="content plain" data-testid="message-content">
          {message.content}
        </div>
      )}
      {message.status === 'incomplete' && !streaming && (
        <div className="note" data-testid="incomplete-note">
          {message.stats.errorMessage !== undefined ? `Incomplete: ${message.stats.errorMessage}` : 'Stopped'}
        </div>
      )}
      {message.status === 'error' && <div className="note error">{message.stats.errorMessage ?? 'Generation failed'}</div>}
      {message.stats.stopReason === 'context' && (
        <div className="note" data-testid="context-note">
          Stopped at the model's context limit (the chat settings say to stop there)
        </div>
      )}
      {(message.stats.droppedTokens ?? 0) > 0 && (
        <div className="note" data-testid="context-note">
          Context full: the {message.stats.droppedTokens} oldest tokens of this chat were left out of the model's view
        </div>
      )}
      {!streaming && (
        <footer className="actions">
          <BranchArrows ids={message.siblingIds} current={message.id} onSelect={onSelectSibling} />
          <button data-testid="copy" onClick={() => void navigator.clipboard?.writeText(message.content)}>
            Copy
          </button>
          {message.role === 'user' && editable && (
            <button data-testid="edit" disabled={busy} onClick={() => setEditing(message.content)}>
              Edit
            </button>
          )}
          {message.role === 'assistant' && (
            <button data-testid="regenerate" disabled={busy} onClick={onRegenerate}>
              Regenerate
            </button>
          )}
          {message.role === 'assistant' && message.status === 'incomplete' && onContinue && (
            <button data-testid="continue" disabled={busy} onClick={onContinue}>
              Continue
            </button>
          )}
        </footer>
      )}
    </article>
  );
}
