/**
 * The ConnectionGateway contract (the `@connections` management API): every adapter must pass
 * it (see connection-gateway.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayThrottledError, type ConnectionGateway } from '../../functions/domain/ports.ts';

export interface GatewayFixture {
  gateway: ConnectionGateway;
  /** Opens a live connection; resolves with its id. */
  open(): Promise<string>;
  /** The connection disappears (the client went away). */
  vanish(connectionId: string): Promise<void>;
  /** Text payloads the connection received, in order, once there are at least `count`. */
  received(connectionId: string, count: number): Promise<string[]>;
  /** The next post to this connection is throttled (HTTP 429). */
  throttleNext(connectionId: string): void;
  dispose(): Promise<void>;
}

export function describeConnectionGatewayContract(name: string, factory: () => Promise<GatewayFixture>): void {
  describe(`ConnectionGateway (${name})`, () => {
    let f: GatewayFixture;
    beforeAll(async () => {
      f = await factory();
    });
    afterAll(() => f.dispose());

    describe('post', () => {
      it('delivers the payload to an open connection, unchanged', async () => {
        const id = await f.open();
        const payload = JSON.stringify({ event: 'pong', text: 'h\u00e9llo \u{1F600}', n: 1 });
        expect(await f.gateway.post(id, payload)).toBe('ok');
        expect(await f.received(id, 1)).toEqual([payload]);
      });

      it('keeps the order of posts made one after another', async () => {
        const id = await f.open();
        for (let i = 1; i <= 5; i++) await f.gateway.post(id, `{"n":${i}}`);
        expect(await f.received(id, 5)).toEqual([1, 2, 3, 4, 5].map((i) => `{"n":${i}}`));
      });

      it('answers gone for a connection it never knew', async () => {
        expect(await f.gateway.post('bm90LWEtY29ubmVjdGlvbg=', '{}')).toBe('gone');
      });

      it('answers gone once the client went away', async () => {
        const id = await f.open();
        await f.vanish(id);
        expect(await f.gateway.post(id, '{}')).toBe('gone');
      });

      it('throws GatewayThrottledError when throttled', async () => {
        const id = await f.open();
        f.throttleNext(id);
        await expect(f.gateway.post(id, '{}')).rejects.toBeInstanceOf(GatewayThrottledError);
        expect(await f.gateway.post(id, '{"after":true}')).toBe('ok');
      });
    });

    describe('disconnect', () => {
      it('closes the connection, after which posts answer gone', async () => {
        const id = await f.open();
        await f.gateway.disconnect(id);
        expect(await f.gateway.post(id, '{}')).toBe('gone');
      });

      it('is quiet for a connection that is already gone', async () => {
        await expect(f.gateway.disconnect('Z29uZS1hbHJlYWR5LWdvbmU=')).resolves.toBeUndefined();
      });
    });
  });
}
