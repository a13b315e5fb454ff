// "Re-tune kernels": forgets the kernel variants measured on this GPU (src/gpu/tuning), so the next model load times
// them again, e.g. after a driver update. The engine worker knows the device and asks main to clear its entries.
import { useState } from 'react';
import { engine, useEngineEvents } from '../hooks/engine';

export function tuningClearedText(e: { readonly adapter: string | null; readonly removed: number; readonly error?: string }): string {
  if (e.error !== undefined) return `Could not clear the kernel choices: ${e.error}`;
  if (e.adapter === null) return 'Load a model first: its GPU is the one re-tuned.';
  return `Cleared ${e.removed} kernel choice${e.removed === 1 ? '' : 's'} for this GPU: they are measured again at the next model load.`;
}

export function KernelTuningSetting() {
  const [status, setStatus] = useState<string | null>(null);
  useEngineEvents((e) => {
    if (e.type === 'tuning-cleared') setStatus(tuningClearedText(e));
  });
  return (
    <div className="kernel-tuning">
      <button
        type="button"
        data-testid="retune-kernels"
        title="Forget the kernel variants measured on this GPU; the next model load measures them again (about 2 s)"
        onClick={() => {
          setStatus(null);
          engine().forgetTuning();
        }}>
        Re-tune kernels
      </button>
      {status && (
        <span className="muted" role="status" data-testid="retune-status">
          {status}
        </span>
      )}
    </div>
  );
}
