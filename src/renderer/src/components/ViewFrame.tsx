// A view of its own beside the chat (My models, Storage, Servers / API): its title, one line on what it is for,
// and its panels.
import type { ReactNode } from 'react';

export function ViewFrame({ id, title, intro, hidden, children }: { id: string; title: string; intro: string; hidden: boolean; children: ReactNode }) {
  return (
    <section className="view-frame" data-testid={`${id}-view`} aria-labelledby={`${id}-title`} hidden={hidden}>
      <header className="view-head">
        <h2 id={`${id}-title`}>{title}</h2>
        <p className="muted">{intro}</p>
      </header>
      <div className="view-body">{children}</div>
    </section>
  );
}
