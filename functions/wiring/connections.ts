/** Wiring of ws-connect and ws-disconnect. */
import { log, metricsPort } from '../adapters/powertools.ts';
import { ConnectionService } from '../domain/connections.ts';
import { once } from './common.ts';
import { abuseLimits, presenceService } from './presence.ts';
import { connections, subscriptions } from './stores.ts';

export const connectionService = (): ConnectionService =>
  once('connectionService', () =>
    new ConnectionService({ connections: connections(), subscriptions: subscriptions(), log, metrics: metricsPort, presence: presenceService(), limits: abuseLimits() }),
  );
