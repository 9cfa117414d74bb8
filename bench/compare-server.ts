/**
 * The server side of the comparison with the seed's design, in a process of its own so that its
 * memory is its own: either the local runtime (every handler, dynalite, the emulations) or the
 * Socket.IO baseline (bench/baseline/server.ts). Started by bench/compare.ts with `--expose-gc`.
 */
import '../local/quiet-sdk.ts';
import { DEVELOPMENT_JWT_SECRET } from '../functions/config.ts';
import { startLocalRuntime, type LocalRuntime } from '../local/runtime.ts';
import { startBaselineServer, type BaselineServer } from './baseline/server.ts';
import { childIpc } from './ipc.ts';
import type { FromServer, ToServer } from './protocol.ts';

const { send, fail } = childIpc<FromServer>('bench/compare-server.ts');
let runtime: LocalRuntime | undefined;
let baseline: BaselineServer | undefined;

async function start(message: Extract<ToServer, { type: 'start' }>): Promise<void> {
  if (message.kind === 'runtime') {
    runtime = await startLocalRuntime({
      port: 0,
      log: 'silent',
      // The handlers' Powertools logs and metrics would write a JSON line per call to stdout.
      env: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
    });
    send({ type: 'started', url: runtime.url, wsUrl: runtime.wsUrl });
  } else {
    baseline = await startBaselineServer({ redisUrl: message.redisUrl, jwtSecret: DEVELOPMENT_JWT_SECRET });
    send({ type: 'started', url: baseline.url, wsUrl: baseline.url });
  }
}

function memory(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('bench/compare-server.ts needs node --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  send({
    type: 'memory',
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    connections: runtime ? runtime.gateway.connectionCount : (baseline?.connections() ?? 0),
  });
}

async function exit(): Promise<void> {
  await Promise.race([Promise.all([runtime?.close(), baseline?.close()]), new Promise((r) => setTimeout(r, 20_000))]);
  process.exit(0);
}

process.on('message', (m: ToServer) => {
  try {
    if (m.type === 'start') start(m).catch(fail);
    else if (m.type === 'memory') memory();
    else void exit();
  } catch (error) {
    fail(error);
  }
});
process.on('disconnect', () => process.exit(1));
