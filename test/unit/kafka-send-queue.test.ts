/** The producer's send queue: one send at a time, later calls together, failures to the calls they carried. */
import { describe, expect, it } from 'vitest';
import type { Message } from 'kafkajs';
import { MAX_MESSAGES_PER_SEND, SendQueue } from '../../streams/kafka/producer.ts';

const msgs = (from: number, n: number): Message[] => Array.from({ length: n }, (_, i) => ({ key: 'k', value: String(from + i) }));
const values = (m: Message[]) => m.map((x) => Number(x.value));

/** a send function whose sends the test completes by hand */
function manualSends() {
  const sends: { messages: Message[]; ok: () => void; fail: (e: Error) => void }[] = [];
  const sendOnce = (messages: Message[]) =>
    new Promise<void>((resolve, reject) => {
      sends.push({ messages, ok: resolve, fail: reject });
    });
  return { sends, sendOnce };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('SendQueue', () => {
  it('sends at once when idle, and everything that queued behind it as the next send, in call order', async () => {
    const { sends, sendOnce } = manualSends();
    const q = new SendQueue(sendOnce);
    const settled: string[] = [];
    const a = q.push(msgs(0, 3)).then(() => settled.push('a'));
    await tick();
    expect(sends.length).toBe(1);
    const b = q.push(msgs(3, 2)).then(() => settled.push('b'));
    const c = q.push(msgs(5, 4)).then(() => settled.push('c'));
    await tick();
    expect(sends.length).toBe(1); // one in flight at a time
    sends[0]!.ok();
    await a;
    await tick();
    expect(sends.length).toBe(2);
    expect(values(sends[1]!.messages)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(settled).toEqual(['a']);
    sends[1]!.ok();
    await Promise.all([b, c]);
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  it(`splits a list longer than ${MAX_MESSAGES_PER_SEND} over consecutive sends, resolving after the last`, async () => {
    const { sends, sendOnce } = manualSends();
    const q = new SendQueue(sendOnce);
    let done = false;
    const p = q.push(msgs(0, MAX_MESSAGES_PER_SEND * 2 + 10)).then(() => (done = true));
    const small = q.push(msgs(100_000, 5));
    for (let i = 0; i < 2; i++) {
      await tick();
      expect(sends.length).toBe(i + 1);
      expect(sends[i]!.messages.length).toBe(MAX_MESSAGES_PER_SEND);
      sends[i]!.ok();
      await tick();
      expect(done).toBe(false);
    }
    await tick();
    // the list's last 10, then the call behind it, in one send
    expect(values(sends[2]!.messages)).toEqual([...values(msgs(MAX_MESSAGES_PER_SEND * 2, 10)), ...values(msgs(100_000, 5))]);
    sends[2]!.ok();
    await Promise.all([p, small]);
    expect(done).toBe(true);
    expect(values(sends.flatMap((s) => s.messages)).slice(0, MAX_MESSAGES_PER_SEND * 2 + 10)).toEqual(values(msgs(0, MAX_MESSAGES_PER_SEND * 2 + 10)));
  });

  it('fails the calls a failed send carried (the rest of a long one is not sent) and goes on with the others', async () => {
    const { sends, sendOnce } = manualSends();
    const q = new SendQueue(sendOnce);
    const first = q.push(msgs(0, 2));
    await tick();
    const long = q.push(msgs(10, MAX_MESSAGES_PER_SEND + 50));
    const later = q.push(msgs(5_000, 3));
    sends[0]!.ok();
    await first;
    await tick();
    expect(sends[1]!.messages.length).toBe(MAX_MESSAGES_PER_SEND);
    sends[1]!.fail(new Error('broker said no'));
    await expect(long).rejects.toThrow('broker said no');
    await tick();
    // the long call's remaining 50 are dropped; the later call goes alone
    expect(values(sends[2]!.messages)).toEqual([5_000, 5_001, 5_002]);
    sends[2]!.ok();
    await expect(later).resolves.toBeUndefined();
    expect(sends.length).toBe(3);
  });

  it('rejects every call whose messages shared the failed send', async () => {
    const { sends, sendOnce } = manualSends();
    const q = new SendQueue(sendOnce);
    const first = q.push(msgs(0, 1));
    await tick();
    const b = q.push(msgs(1, 1));
    const c = q.push(msgs(2, 1));
    sends[0]!.ok();
    await first;
    await tick();
    sends[1]!.fail(new Error('timeout'));
    await expect(b).rejects.toThrow('timeout');
    await expect(c).rejects.toThrow('timeout');
    // and the queue still works afterwards
    const d = q.push(msgs(3, 1));
    await tick();
    sends[2]!.ok();
    await expect(d).resolves.toBeUndefined();
  });
});
