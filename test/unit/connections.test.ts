import { describe, expect, it } from 'vitest';
import { MemoryConnectionStore } from '../../functions/adapters/memory/connection-store.ts';
import { MemorySubscriptionStore } from '../../functions/adapters/memory/subscription-store.ts';
import { ConnectionService } from '../../functions/domain/connections.ts';
import { silentLog } from '../../functions/domain/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { RecordingMetrics } from './domain-fakes.ts';

const TWO_HOURS_FIFTEEN_SEC = 2 * 3600 + 15 * 60;

function setup() {
  const clock = new FakeClock(Date.UTC(2030, 0, 1, 8, 0, 0));
  const connections = new MemoryConnectionStore({ clock });
  const subscriptions = new MemorySubscriptionStore({ clock });
  const metrics = new RecordingMetrics();
  const service = new ConnectionService({ connections, subscriptions, log: silentLog, metrics });
  const subscribe = (connectionId: string, channel: string) =>
    subscriptions.add({ connectionId, channel, userId: 'alice', subscribedAt: clock.now(), expiresAt: clock.inSeconds(3600) }, 100);
  return { clock, connections, subscriptions, metrics, service, subscribe };
}

describe('ConnectionService', () => {
  describe('connect', () => {
    it('stores the connection with the identity and request details', async () => {
      // Prepare
      const { service, connections, clock } = setup();
      // Act
      await service.connect({
        connectionId: 'c1',
        identity: { userId: 'alice', name: 'Alice', picture: 'https://example.test/a.png' },
        connectedAt: clock.now(),
        sourceIp: '203.0.113.9',
        userAgent: 'vitest',
      });
      // Assess
      expect(await connections.get('c1')).toStrictEqual({
        connectionId: 'c1',
        userId: 'alice',
        name: 'Alice',
        picture: 'https://example.test/a.png',
        connectedAt: clock.now(),
        sourceIp: '203.0.113.9',
        userAgent: 'vitest',
        expiresAt: clock.now() / 1000 + TWO_HOURS_FIFTEEN_SEC,
      });
    });

    it('stores only the fields it was given', async () => {
      const { service, connections, clock } = setup();
      await service.connect({ connectionId: 'c1', identity: { userId: 'alice' }, connectedAt: clock.now() });
      expect(await connections.get('c1')).toStrictEqual({
        connectionId: 'c1',
        userId: 'alice',
        connectedAt: clock.now(),
        expiresAt: clock.now() / 1000 + TWO_HOURS_FIFTEEN_SEC,
      });
    });

    it('expires the record 2 h 15 min after connectedAt, in whole epoch seconds', async () => {
      // Prepare: a connection time with milliseconds.
      const { service, connections, clock } = setup();
      const connectedAt = clock.now() + 999;
      // Act
      await service.connect({ connectionId: 'c1', identity: { userId: 'alice' }, connectedAt });
      // Assess
      expect((await connections.get('c1'))?.expiresAt).toBe(Math.floor(connectedAt / 1000) + TWO_HOURS_FIFTEEN_SEC);
    });

    it('counts ConnectionsOpened', async () => {
      const { service, metrics, clock } = setup();
      await service.connect({ connectionId: 'c1', identity: { userId: 'alice' }, connectedAt: clock.now() });
      await service.connect({ connectionId: 'c2', identity: { userId: 'bob' }, connectedAt: clock.now() });
      expect(metrics.total('ConnectionsOpened')).toBe(2);
    });
  });

  describe('disconnect', () => {
    it('removes the connection and all its subscriptions', async () => {
      // Prepare
      const { service, connections, subscriptions, subscribe, clock } = setup();
      await service.connect({ connectionId: 'c1', identity: { userId: 'alice' }, connectedAt: clock.now() });
      await service.connect({ connectionId: 'c2', identity: { userId: 'alice' }, connectedAt: clock.now() });
      await subscribe('c1', 'jobs.J1');
      await subscribe('c1', 'user.alice');
      await subscribe('c2', 'jobs.J1');
      // Act
      await service.disconnect('c1', { statusCode: 1000, reason: 'bye' });
      // Assess
      expect(await connections.get('c1')).toBeUndefined();
      expect(await subscriptions.listByConnection('c1')).toStrictEqual([]);
      expect((await subscriptions.listByChannel('jobs.J1', { limit: 10 })).items.map((s) => s.connectionId)).toStrictEqual(['c2']);
      expect((await subscriptions.listByChannel('user.alice', { limit: 10 })).items).toStrictEqual([]);
      expect(await connections.get('c2')).toBeDefined();
    });

    it('counts ConnectionsClosed', async () => {
      const { service, metrics } = setup();
      await service.disconnect('c1');
      expect(metrics.total('ConnectionsClosed')).toBe(1);
    });

    it('succeeds for a connection that was never stored', async () => {
      const { service } = setup();
      await expect(service.disconnect('unknown')).resolves.toBeUndefined();
    });
  });
});
