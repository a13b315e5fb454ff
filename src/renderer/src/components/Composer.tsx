// The message box: Enter sends, Shift+Enter adds a line, Esc (handled by the app) stops; Stop while streaming.
import { useState } from 'react';

export interface ComposerProps {
  /** The message box's element id (the focus shortcut finds it). */
  readonly id: string;
  readonly disabled: boolean;
  /** Why it is disabled, shown in the empty box (default: the model is on its way). */
  readonly disabledNote?: string;
  readonly busy: boolean;
  readonly onSend: (text: string) => void;
  readonly onStop: () => void;
}

export function Composer({ id, disabled, disabledNote = 'Waiting for the model…', busy, onSend, onStop }: ComposerProps) {
  const [text, setText] = useState('');
  const submit = () => {
    if (disabled || busy || text.trim() === '') return;
    onSend(text);
    setText('');
  };
  return (
    <div className="composer" role="group" aria-label="Write a message">
      <textarea
        id={id}
        data-testid="composer"
        aria-label="Message"
        value={text}
        placeholder={disabled ? disabledNote : 'Message (Enter to send, Shift+Enter for a new line)'}
        rows={3}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            submit();
          }
        }}
      />
      {busy ? (
        <button data-testid="stop" className="danger" onClick={onStop}>
          Stop
        </button>
      ) : (
        <button data-testid="send" className="primary" disabled={disabled || text.trim() === ''} onClick={submit}>
          Send
        </button>
      )}
    </div>
  );
}
