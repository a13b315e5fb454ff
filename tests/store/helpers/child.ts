// Starts tests/store/helpers/store-writer.ts in its own Node process and follows what it prints.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const WRITER = resolve(__dirname, 'store-writer.ts');

export interface Writer {
  readonly child: ChildProcess;
  /** Every line printed so far. */
  readonly lines: string[];
  /** Resolves when a line satisfying `test` has been printed (or rejects when the process ends first). */
  waitFor(test: (lines: string[]) => boolean): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

export function startWriter(...args: string[]): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const waiters: { test: (l: string[]) => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.test(lines)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    check();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) =>
    child.on('exit', (code, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`writer exited (${code ?? signal}) first: ${stderr}`));
      res({ code, signal, stderr });
    }),
  );
  return {
    child,
    lines,
    exited,
    waitFor: (test) =>
      new Promise((resolve, reject) => {
        waiters.push({ test, resolve, reject });
        check();
      }),
  };
}

/** The ids a writer reported as committed. */
export const committedIds = (lines: readonly string[]): number[] =>
  lines.filter((l) => l.startsWith('committed ')).map((l) => Number(l.slice('committed '.length)));
