// The chat header's compact KV gauge: how full the GPU block pool is (used, shared, cached), what sits in RAM and on
// disk, this chat's context and where its KV came from when it was opened. A button: it opens the full KV picture.
import type { KvPicture, ResumeReport } from '../engine/protocol';
import { Icon } from './icons';

export interface KvGaugeProps {
  readonly picture: KvPicture | null;
  readonly resume: ResumeReport | null;
  /** Tokens the open chat's context holds, and the model's context length (null: no model loaded). */
  readonly contextUsed: number;
  readonly contextLength: number | null;
  readonly onOpen: () => void;
  readonly expanded: boolean;
}

/** GPU blocks per state: [free, used, shared, cached]. */
export function blockCounts(states: Uint8Array): [number, number, number, number] {
  const counts: [number, number, number, number] = [0, 0, 0, 0];
  for (const s of states) if (s < 4) counts[s as 0 | 1 | 2 | 3]++;
  return counts;
}

export function KvGauge({ picture, resume, contextUsed, contextLength, onOpen, expanded }: KvGaugeProps) {
  const [free, used, shared, cached] = picture ? blockCounts(picture.states) : [0, 0, 0, 0];
  const total = Math.max(1, free + used + shared + cached);
  const pct = (n: number): string => `${((100 * n) / total).toFixed(1)}%`;
  const summary = picture
    ? `KV cache: ${used + shared} of ${picture.blocks} GPU blocks in use (${shared} shared), ${picture.ramBlocks} in RAM, ${picture.diskBlocks} on disk`
    : 'KV cache: no model loaded';
  return (
    <button type="button" className="kv-gauge" data-testid="kv-gauge" title={`${summary}. Opens the KV cache picture.`} aria-expanded={expanded} onClick={onOpen}>
      <Icon name="gauge" size={16} />
      <span className="visually-hidden">KV cache:</span>
      <span className="kv-bar" aria-hidden="true">
        <span className="kv-used" style={{ width: pct(used) }} />
        <span className="kv-shared" style={{ width: pct(shared) }} />
        <span className="kv-cached" style={{ width: pct(cached) }} />
      </span>
      <span className="kv-gauge-text" data-testid="kv-gauge-text">
        {picture ? `GPU ${used + shared}/${picture.blocks} · RAM ${picture.ramBlocks} · disk ${picture.diskBlocks}` : 'KV –'}
      </span>
      <span className="kv-gauge-context" data-testid="kv-gauge-context">
        ctx {contextUsed}/{contextLength ?? '–'}
      </span>
      {resume && (
        <span className="kv-gauge-source" data-testid="kv-gauge-source" data-source={resume.source}>
          from {resume.source}
        </span>
      )}
    </button>
  );
}
