// What the status bar says about the open chat: the last answer's stats and where the chat's KV came from (gpu,
// ram, disk or prefill). Several concerns clear or fill it (a model load, opening a chat, an answer), so its
// setters are one stable object they can all hold.
import { useMemo, useState } from 'react';
import type { AnswerStats, ResumeReport } from '../engine/protocol';

export interface AnswerReportUpdates {
  /** A finished local answer: its stats and the resume it started from. */
  answered(stats: AnswerStats): void;
  resumed(report: ResumeReport): void;
  clearStats(): void;
  clearResume(): void;
  /** Another chat (or none) is on screen. */
  clear(): void;
}

export interface AnswerReport {
  readonly stats: AnswerStats | null;
  readonly resume: ResumeReport | null;
  readonly update: AnswerReportUpdates;
}

export function useAnswerReport(): AnswerReport {
  const [stats, setStats] = useState<AnswerStats | null>(null);
  const [resume, setResume] = useState<ResumeReport | null>(null);
  const update = useMemo<AnswerReportUpdates>(
    () => ({
      answered: (s) => {
        setStats(s);
        setResume(s.resume);
      },
      resumed: setResume,
      clearStats: () => setStats(null),
      clearResume: () => setResume(null),
      clear: () => {
        setStats(null);
        setResume(null);
      },
    }),
    [],
  );
  return { stats, resume, update };
}
