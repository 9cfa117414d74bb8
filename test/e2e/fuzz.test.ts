/**
 * The message route fuzzed through the real local runtime over a real WebSocket: every frame
 * (random JSON, wrong types, huge strings, deep nesting, broken UTF-8 once decoded) gets
 * replies of the protocol only (TestClient validates each against ServerMessageSchema and
 * fails on anything else, such as API Gateway's "Internal server error"), no handler fails
 * (the gateway counts failed invocations: the 5xx of API Gateway), and a ping after each frame
 * still gets its pong. Frames a socket cannot carry are in test/local/gateway.test.ts (over
 * 128 KB: 1009; binary: 1003; invalid UTF-8 text: 1007).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arbitrarySocketFrame } from '../support/fuzz.ts';
import { startProduct, type Product } from './support.ts';

let product: Product;
beforeAll(async () => {
  // Two frames per run, faster than 10 a second: a bucket that does not refuse them here.
  product = await startProduct({ env: { RATE_LIMIT_MESSAGE_BURST: '100000' } });
});
afterAll(() => product.close());

describe('the message route over a real socket under arbitrary frames', () => {
  it('answers every frame within the protocol, never fails a handler, and keeps the connection working', { timeout: 120_000 }, async () => {
    const client = await product.connect('alice');
    const failuresBefore = product.runtime.gateway.stats.messageErrors;
    await fc.assert(
      fc.asyncProperty(arbitrarySocketFrame, async (frame) => {
        client.send(frame);
        const pong = await client.request({ action: 'ping' });
        expect(pong.event).toBe('pong');
        expect(client.open).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(product.runtime.gateway.stats.messageErrors).toBe(failuresBefore);
    const errors = client.messages.filter((m) => m.event === 'error');
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e.code).not.toBe('INTERNAL');
  });
});
