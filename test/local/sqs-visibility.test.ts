/**
 * A message whose visibility timeout ends comes back even when the timer fires a little before
 * Date.now() reaches the end (Node's timers run on a monotonic clock): it is received again.
 */
import { describe, expect, it } from 'vitest';
import { createLog } from '../../local/log.ts';
import { LocalQueue } from '../../local/sqs.ts';
import { Timers } from '../../local/util.ts';

/** Timers that fire 5 ms early, as seen by Date.now(). */
class EarlyTimers extends Timers {
  override set(fn: () => void, ms: number): NodeJS.Timeout {
    return super.set(fn, ms - 5);
  }
}

describe('LocalQueue visibility timeout', () => {
  it('makes a received message visible again even when its timer fires early', async () => {
    const timers = new EarlyTimers();
    const queue = new LocalQueue({ name: 'q', region: 'us-east-1', baseUrl: 'http://x', visibilityTimeoutMs: 50, maxMessageBytes: 1024, timers, log: createLog('silent') });
    try {
      queue.send('hello');
      expect(queue.receive(1)).toHaveLength(1);
      const again = new Promise<number>((resolve) => {
        const off = queue.onAvailable(() => {
          const messages = queue.receive(1);
          if (messages.length === 0) return; // woken too early: a later wake must follow
          off();
          resolve(Number(messages[0]?.attributes.ApproximateReceiveCount));
        });
      });
      const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('never received again'), 2000));
      expect(await Promise.race([again, timeout])).toBe(2);
    } finally {
      queue.close();
      timers.closeAll();
    }
  });
});
