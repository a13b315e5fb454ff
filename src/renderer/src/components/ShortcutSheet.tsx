// The list of keyboard shortcuts, in a modal dialog (the native <dialog>: focus trapped, Esc closes it).
import { useEffect, useRef } from 'react';
import { Icon } from './icons';
import { SHORTCUTS } from './shortcuts';

const isMac = typeof navigator !== 'undefined' && /Mac/i.test(navigator.platform);
const shown = (keys: string): string => keys.replaceAll('Mod', isMac ? '⌘' : 'Ctrl');

export function ShortcutSheet({ open, onClose }: { readonly open: boolean; readonly onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={dialog} className="shortcut-sheet" data-testid="shortcut-sheet" aria-labelledby="shortcut-title" onClose={onClose}>
      <div className="dialog-head">
        <h2 id="shortcut-title">Keyboard shortcuts</h2>
        <button className="icon-button" aria-label="Close" data-testid="shortcut-close" onClick={onClose}>
          <Icon name="close" size={16} />
        </button>
      </div>
      <table>
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.action}>
              <th scope="row">{s.description}</th>
              <td>
                <kbd>{shown(s.keys)}</kbd>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </dialog>
  );
}
