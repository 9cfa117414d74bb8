/**
 * Property-based tests of the message route in process: arbitrary frames (random JSON, wrong
 * types, huge strings, deep nesting, broken UTF-8) never make the router throw, every reply is
 * a message of the protocol or a coded error (never INTERNAL, never echoing the input in its
 * text), and the connection keeps working: a ping after each frame gets its pong.
 * test/e2e/fuzz.test.ts does the same through the real local runtime over a WebSocket.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../functions/domain/errors.ts';
import { ServerMessageSchema } from '../../functions/domain/messages.ts';
import { MARKER, arbitraryFrame, fuzzRouter } from '../support/fuzz.ts';

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode).filter((c) => c !== ErrorCode.INTERNAL));

describe('the message route under arbitrary frames', () => {
  it('never throws, answers only protocol messages or coded errors, never echoes input, and keeps answering pings', async () => {
    const { router, gateway, ctx, clock } = fuzzRouter();
    let probes = 0;
    await fc.assert(
      fc.asyncProperty(arbitraryFrame, async (frame) => {
        const before = gateway.received(ctx.connectionId).length;
        await router.handle(ctx, frame); // a throw fails the property
        const replies = gateway.received(ctx.connectionId).slice(before);
        for (const reply of replies) {
          const parsed = ServerMessageSchema.safeParse(reply);
          expect(parsed.success, JSON.stringify(reply)).toBe(true);
          const message = reply as { event: string; code?: string; message?: string };
          if (message.event === 'error') {
            expect(CODES.has(message.code ?? ''), `unexpected code ${String(message.code)}`).toBe(true);
            expect(message.message).not.toContain(MARKER);
            expect(message.message!.length).toBeLessThan(300);
          }
        }
        const probe = `probe-${++probes}`;
        await router.handle(ctx, JSON.stringify({ action: 'ping', requestId: probe }));
        expect(gateway.received(ctx.connectionId).at(-1)).toMatchObject({ event: 'pong', requestId: probe });
        clock.nowMs += 10;
      }),
      { numRuns: 1000 },
    );
  });
});
