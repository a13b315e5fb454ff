// Admission by KV blocks: requests run together while their worst cases fit, the rest wait in order, and a waiting
// request whose client leaves gives its turn away.
import { describe, expect, it } from 'vitest';
import { KvAdmission, worstCaseBlocks } from '../../src/server/kv-admission';

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setTimeout(r, 0));
  return done;
};

describe('KvAdmission', () => {
  it('counts every computed position: prompt plus all sampled tokens but the last', () => {
    expect(worstCaseBlocks(1, 1)).toBe(1);
    expect(worstCaseBlocks(5, 12)).toBe(1); // 16 positions
    expect(worstCaseBlocks(5, 13)).toBe(2); // 17
    expect(worstCaseBlocks(512, 1)).toBe(32);
  });

  it('admits while the worst cases fit, then first come first served', async () => {
    const a = new KvAdmission(10);
    await a.acquire(6);
    const second = a.acquire(5);
    const third = a.acquire(4);
    expect(await settled(second)).toBe(false);
    expect(await settled(third)).toBe(false); // would fit, but waits behind the second
    a.release(6);
    expect(await settled(second)).toBe(true);
    expect(await settled(third)).toBe(true);
    expect(a.reservedBlocks).toBe(9);
  });

  it('an aborted waiter leaves the queue and lets the next one in', async () => {
    const a = new KvAdmission(4);
    await a.acquire(3);
    const gone = new AbortController();
    const big = a.acquire(4, gone.signal);
    const small = a.acquire(1);
    gone.abort(new Error('client left'));
    await expect(big).rejects.toThrow('client left');
    expect(await settled(small)).toBe(true);
    expect(a.waitingRequests).toBe(0);
    expect(a.reservedBlocks).toBe(4);
  });

  it('refuses a request larger than the whole cache instead of waiting forever', async () => {
    await expect(new KvAdmission(4).acquire(5)).rejects.toThrow(RangeError);
  });
});

describe('KvAdmission: a bounded queue', () => {
  it('refuses past maxWaiting (queue-full) at once, without disturbing those waiting', async () => {
    const a = new KvAdmission(2, { maxWaiting: 2 });
    await a.acquire(2);
    const w1 = a.acquire(1);
    const w2 = a.acquire(1);
    await expect(a.acquire(1)).rejects.toMatchObject({ name: 'AdmissionRefused', reason: 'queue-full' });
    expect(a.full).toBe(true);
    a.release(2);
    await Promise.all([w1, w2]);
    expect(a.full).toBe(false);
  });

  it('maxWaiting 0 admits what fits at once and refuses the rest', async () => {
    const a = new KvAdmission(2, { maxWaiting: 0 });
    await a.acquire(1);
    await a.acquire(1);
    expect(a.full).toBe(false); // nothing waits: the cheap pre-check lets acquire() decide
    await expect(a.acquire(1)).rejects.toMatchObject({ reason: 'queue-full' });
  });

  it('a waiter past maxWaitMs is refused (timeout) and leaves the queue; the next one is admitted', async () => {
    const a = new KvAdmission(2, { maxWaitMs: 30 });
    await a.acquire(2);
    const slow = a.acquire(2);
    await expect(slow).rejects.toMatchObject({ reason: 'timeout' });
    expect(a.waitingRequests).toBe(0);
    a.release(2);
    await a.acquire(2);
    expect(a.reservedBlocks).toBe(2);
  });
});
