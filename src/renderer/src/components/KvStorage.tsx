// The Storage view: KV blocks on disk against the budget (least recently used chats lose their KV first and
// recompute it when reopened; their messages stay), each chat's KV with a "forget" button, and the sizes of the
// database and the models folder.
import { useCallback, useEffect, useState } from 'react';
import type { KvStorage as KvStorageInfo } from '../../../shared/api';
import { api, value } from '../api';

const GiB = 2 ** 30;
const size = (bytes: number): string => (bytes >= GiB ? `${(bytes / GiB).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);
const when = (ms: number): string => (ms > 0 ? new Date(ms).toLocaleString() : 'never');

export function KvStorage() {
  const [info, setInfo] = useState<KvStorageInfo | null>(null);
  const [budgetGiB, setBudgetGiB] = useState('');
  const [error, setError] = useState<string | null>(null);

  const show = useCallback((i: KvStorageInfo) => {
    setInfo(i);
    setBudgetGiB((i.budgetBytes / GiB).toFixed(2));
  }, []);
  const run = useCallback(
    async (action: () => Promise<KvStorageInfo>) => {
      setError(null);
      try {
        show(await action());
      } catch (e) {
        setError((e as Error).message);
      }
    },
    [show],
  );
  useEffect(() => {
    void value(api.getKvStorage())
      .then(show)
      .catch((e: unknown) => setError((e as Error).message));
  }, [show]);

  const applyBudget = (bytes: number | null): void => void run(() => value(api.setKvBudget({ bytes })));
  const forget = (conversationId: number): void =>
    void run(async () => {
      await value(api.forgetConversationKv({ conversationId }));
      return value(api.getKvStorage());
    });
  const typed = Number(budgetGiB);
  const typedOk = budgetGiB !== '' && Number.isFinite(typed) && typed >= 0;

  return (
    <section className="kv-storage panel" data-testid="kv-storage" aria-label="KV cache on disk">
      <h3>KV cache on disk</h3>
      {!info && !error && (
        <p className="muted" role="status">
          Reading the store…
        </p>
      )}
      {info && (
        <>
          <p data-testid="kv-storage-total">
            KV on disk: {size(info.totalBytes)} of {size(info.budgetBytes)}
            {info.budgetIsDefault ? ' (default budget)' : ''}
          </p>
          <label className="field">
            <span>KV budget (GiB)</span>
            <input data-testid="kv-storage-budget" inputMode="decimal" value={budgetGiB} onChange={(e) => setBudgetGiB(e.target.value)} />
          </label>
          <button type="button" data-testid="kv-storage-budget-apply" disabled={!typedOk} onClick={() => applyBudget(Math.round(typed * GiB))}>
            Set budget
          </button>
          <button type="button" data-testid="kv-storage-budget-default" disabled={info.budgetIsDefault} onClick={() => applyBudget(null)}>
            Default
          </button>
          <p className="muted">Database {size(info.databaseBytes)}; models folder {size(info.modelsFolderBytes)}{info.freeBytes !== null ? `; ${size(info.freeBytes)} free on disk` : ''}</p>
          {info.lastSkip && (
            <p className="muted" data-testid="kv-storage-skip">
              KV was not saved at {when(info.lastSkip.at)}: {info.lastSkip.reason === 'low-disk' ? 'the disk is nearly full' : 'the database is full'}. Chats recompute it.
            </p>
          )}
          {info.conversations.length === 0 && (
            <div className="empty-state" data-testid="kv-storage-empty">
              <p>No KV cache on disk yet.</p>
              <p className="muted">Each chat saves its KV cache after every answer, so that it resumes at once instead of recomputing; it shows here with what it takes.</p>
            </div>
          )}
          <ul className="kv-storage-chats">
            {info.conversations.map((c) => (
              <li key={c.conversationId} data-testid="kv-storage-chat">
                {c.title}: {size(c.bytes)}
                {c.sharedBytes > 0 ? ` (${size(c.sharedBytes)} shared)` : ''}, used {when(c.lastUsedAt)}{' '}
                <button type="button" data-testid="kv-storage-forget" aria-label={`Forget KV of “${c.title}”`} onClick={() => forget(c.conversationId)}>
                  Forget KV
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
