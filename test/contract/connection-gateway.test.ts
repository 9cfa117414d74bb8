import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { ApiGatewayConnectionGateway } from '../../functions/adapters/apigw-gateway.ts';
import { MemoryConnectionGateway } from '../../functions/adapters/memory/connection-gateway.ts';
import { connect, credentials, disconnected, region, startWithHarness, type Client } from '../local/support.ts';
import { describeConnectionGatewayContract } from './connection-gateway.contract.ts';

describeConnectionGatewayContract('memory', async () => {
  const gateway = new MemoryConnectionGateway();
  const throttled = new Set<string>();
  gateway.injectFaults((id) => (throttled.delete(id) ? 'throttle' : undefined));
  let n = 0;
  return {
    gateway,
    open: async () => {
      const id = `conn-${++n}`;
      gateway.open(id);
      return id;
    },
    vanish: async (id) => gateway.close(id),
    received: async (id) => gateway.received(id).map((m) => JSON.stringify(m)),
    throttleNext: (id) => throttled.add(id),
    dispose: async () => {},
  };
});

describeConnectionGatewayContract('API Gateway management API (local runtime, real SDK client)', async () => {
  const { runtime, harness } = await startWithHarness();
  const client = new ApiGatewayManagementApiClient({ endpoint: runtime.managementEndpoint, region, credentials, maxAttempts: 1 });
  const clients = new Map<string, { client: Client; texts: string[]; onMessage: () => void }>();
  const throttled = new Set<string>();
  runtime.management.injectFaults((id, _attempt, operation) =>
    operation === 'post' && throttled.delete(id) ? { status: 429, errorType: 'LimitExceededException' } : undefined,
  );
  return {
    gateway: new ApiGatewayConnectionGateway(client),
    async open() {
      const c = await connect(runtime);
      const entry = { client: c, texts: [] as string[], onMessage: () => {} };
      c.ws.on('message', (data) => {
        entry.texts.push(data.toString());
        entry.onMessage();
      });
      clients.set(c.connectionId, entry);
      return c.connectionId;
    },
    async vanish(id) {
      const done = disconnected(runtime, id);
      clients.get(id)?.client.ws.close();
      await done;
    },
    async received(id, count) {
      // A post resolves once the frame is written; the client reads it a moment later.
      const entry = clients.get(id);
      if (!entry) return [];
      while (entry.texts.length < count) await new Promise<void>((resolve) => (entry.onMessage = resolve));
      return entry.texts;
    },
    throttleNext: (id) => throttled.add(id),
    async dispose() {
      client.destroy();
      harness.destroy();
      await runtime.close();
    },
  };
});
