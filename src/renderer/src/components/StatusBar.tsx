// The numbers a local-model user watches: speed, time to first token, context used, and where the last
// conversation's KV cache came from (GPU, RAM, disk, or recomputed by prefill) and how long that took.
import type { AnswerStats, ResumeReport } from '../engine/protocol';

export interface StatusBarProps {
  readonly model: string;
  readonly stats: AnswerStats | null;
  readonly resume: ResumeReport | null;
  readonly contextUsed: number;
  readonly contextLength: number | null;
}

export function StatusBar({ model, stats, resume, contextUsed, contextLength }: StatusBarProps) {
  return (
    <footer className="status-bar" data-testid="status-bar">
      <span data-testid="status-model">{model}</span>
      <span data-testid="status-tps">{stats ? `${stats.tokensPerSecond.toFixed(1)} tok/s` : '– tok/s'}</span>
      <span data-testid="status-ttft">{stats ? `TTFT ${stats.timeToFirstTokenMs.toFixed(0)} ms` : 'TTFT –'}</span>
      <span data-testid="status-context">
        context {contextUsed}/{contextLength ?? '–'}
      </span>
      <span data-testid="status-resume" data-source={resume?.source ?? ''}>
        {resume ? `KV from ${resume.source} in ${resume.ms.toFixed(0)} ms (${resume.reusedTokens} tokens reused)` : 'KV –'}
      </span>
    </footer>
  );
}
