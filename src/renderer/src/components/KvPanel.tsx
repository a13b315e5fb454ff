// The paged KV cache as a picture: one cell per GPU block coloured by state, then the blocks held in RAM and on
// disk, with the figures behind it.
import type { KvPicture } from '../engine/protocol';
import { blockCounts } from './KvGauge';

const STATE_NAMES = ['free', 'used', 'shared', 'cached', 'ram', 'disk'] as const;
/** Cells drawn per tier at most; the figures say the rest. */
const MAX_CELLS = 1024;

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

export function KvPanel({ picture }: { picture: KvPicture | null }) {
  if (!picture) {
    return (
      <section className="kv-panel" data-testid="kv-panel">
        <p className="muted">KV cache: no model loaded</p>
      </section>
    );
  }
  const counts = blockCounts(picture.states);
  const cells: number[] = [...picture.states.slice(0, MAX_CELLS)];
  for (let i = 0; i < Math.min(picture.ramBlocks, MAX_CELLS); i++) cells.push(4);
  for (let i = 0; i < Math.min(picture.diskBlocks, MAX_CELLS); i++) cells.push(5);
  const hitRate = picture.promptTokens > 0 ? (100 * picture.reusedTokens) / picture.promptTokens : 0;
  return (
    <section className="kv-panel" data-testid="kv-panel">
      <h3>KV cache</h3>
      {picture.live && (
        <p className="kv-live" data-testid="kv-live" role="status">
          Writing an answer: {picture.live.contextTokens} tokens in its context
        </p>
      )}
      <div
        className="kv-grid"
        data-testid="kv-grid"
        role="img"
        aria-label={`${picture.blocks} GPU blocks: ${counts[1]} used, ${counts[2]} shared, ${counts[3]} cached; ${picture.ramBlocks} in RAM, ${picture.diskBlocks} on disk`}
      >
        {cells.map((s, i) => (
          <span key={i} className={`kv-cell kv-${STATE_NAMES[s] ?? 'free'}`} data-testid="kv-cell" data-state={STATE_NAMES[s]} />
        ))}
      </div>
      <dl className="kv-figures">
        <dt>GPU blocks</dt>
        <dd data-testid="kv-gpu">
          {picture.blocks} ({counts[1]} used, {counts[2]} shared, {counts[3]} cached, {counts[0]} free)
        </dd>
        <dt>Block size</dt>
        <dd>{picture.blockBytes ? `${(picture.blockBytes / 1024).toFixed(1)} KiB` : '–'}</dd>
        <dt>In RAM</dt>
        <dd>
          {picture.ramBlocks} blocks, {mib(picture.ramBytes)}
        </dd>
        <dt>On disk</dt>
        <dd data-testid="kv-disk">
          {picture.diskBlocks} blocks, {mib(picture.diskBytes)}
        </dd>
        <dt>Reuse</dt>
        <dd data-testid="kv-hit-rate">
          {hitRate.toFixed(0)}% of {picture.promptTokens} prompt tokens
        </dd>
      </dl>
      <ul className="legend" aria-label="Legend">
        {STATE_NAMES.map((n) => (
          <li key={n}>
            <span className={`kv-cell kv-${n}`} aria-hidden="true" /> {n}
          </li>
        ))}
      </ul>
    </section>
  );
}
