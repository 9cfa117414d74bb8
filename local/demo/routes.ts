/**
 * The live demo at `/` of the local runtime (development only): a page that signs in as a
 * named user, follows a simulated job, and shows the cursors of other tabs on a slide.
 *
 *   GET  /                the page
 *   GET  /demo/app.js     the page script with the client SDK, bundled by esbuild at start
 *   POST /demo/token      {name} → a development token, and an editor role on the demo deck
 *   POST /demo/jobs       {jobId?, steps?, intervalMs?} with `Authorization: Bearer` → a job
 *                         whose progress is published through the worker publisher
 *
 * Everything here answers 404 when NODE_ENV=production, like the development secret it uses.
 */
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { jwtVerify } from 'jose';
import { isValidId } from '../../functions/domain/channels.ts';
import { createPublisher, type Publisher } from '../../functions/publisher/publisher.ts';
import { developmentSecret, mintDevToken } from '../dev-token.ts';
import { HttpError, readJson, sendJson, type Route } from '../http-router.ts';
import type { RuntimeLog } from '../log.ts';

/** The deck every demo user may edit and be present in. */
export const DEMO_DOCUMENT = 'demo-deck';
const WEB_DIR = new URL('./web/', import.meta.url);
const TOKEN_TTL_SEC = 3600;

export interface DemoOptions {
  /** The runtime's own URL: EventBridge PutEvents is served there. */
  url: string;
  /** Resolves when the events queue is drained (a role grant has been applied). */
  settled: () => Promise<void>;
  log: RuntimeLog;
}

export function demoRoutes(options: DemoOptions): Route[] {
  const { log } = options;

  return [
    {
      name: 'demo-page',
      methods: ['GET'],
      path: '/',
      handle: async ({ res }) => {
        if (!demoAllowed()) {
          // What API Gateway answers a plain GET on the WebSocket URL.
          sendJson(res, 426, { message: 'Upgrade Required' }, { upgrade: 'websocket' });
          return;
        }
        const html = await readFile(new URL('index.html', WEB_DIR), 'utf8');
        send(res, 200, html, 'text/html; charset=utf-8');
      },
    },
    {
      name: 'demo-script',
      methods: ['GET'],
      path: '/demo/app.js',
      handle: async ({ res }) => {
        refuseInProduction();
        try {
          send(res, 200, await pageScript(), 'text/javascript; charset=utf-8');
        } catch (error) {
          log.warn('demo page bundle failed', { error: String(error) });
          throw error;
        }
      },
    },
    {
      name: 'demo-token',
      methods: ['POST'],
      path: '/demo/token',
      handle: async ({ req, res }) => {
        refuseInProduction();
        const body = await readJson(req, 16 * 1024);
        const name = typeof body['name'] === 'string' ? body['name'].trim().slice(0, 64) : '';
        const userId = userIdOf(name);
        if (!userId) throw new HttpError(400, 'name: letters, digits, spaces, - or _');
        const token = await mintDevToken({ userId, name, ttlSec: TOKEN_TTL_SEC });
        // Every demo user edits the demo deck; the grant goes through the bus like a real one,
        // and the page joins presence only once it has been applied.
        await withPublisher(options.url, (p) => p.publishDocumentPermission({ documentId: DEMO_DOCUMENT, userId, role: 'editor' }));
        await options.settled();
        sendJson(res, 200, { token, userId, name, documentId: DEMO_DOCUMENT, expiresInSec: TOKEN_TTL_SEC });
      },
    },
    {
      name: 'demo-jobs',
      methods: ['POST'],
      path: '/demo/jobs',
      handle: async ({ req, res }) => {
        refuseInProduction();
        const userId = await authenticate(req.headers['authorization']);
        const body = await readJson(req, 16 * 1024);
        const jobId = typeof body['jobId'] === 'string' ? body['jobId'] : `job-${randomUUID().slice(0, 8)}`;
        if (!isValidId(jobId)) throw new HttpError(400, 'jobId: 1-128 of [A-Za-z0-9_-]');
        const steps = clamp(body['steps'], 1, 50, 10);
        const intervalMs = clamp(body['intervalMs'], 0, 10_000, 400);
        void simulateJob(options.url, { jobId, userId, steps, intervalMs }).catch((error: unknown) =>
          log.warn('demo job failed', { jobId, error: String(error) }),
        );
        sendJson(res, 202, { jobId, steps, intervalMs });
      },
    },
  ];
}

/** A worker at work: queued, then `steps` progress updates, then completed, in order. */
async function simulateJob(url: string, job: { jobId: string; userId: string; steps: number; intervalMs: number }): Promise<void> {
  await withPublisher(url, async (publisher) => {
    let sequence = 0;
    const publish = (status: 'queued' | 'running' | 'completed', progress: number, message: string): Promise<string> =>
      publisher.publishJobUpdate({ jobId: job.jobId, userId: job.userId, status, progress, message, sequence: sequence++ });
    await publish('queued', 0, 'Queued');
    for (let step = 1; step < job.steps; step++) {
      await sleep(job.intervalMs);
      await publish('running', Math.round((step / job.steps) * 100), `Rendering slide ${String(step)} of ${String(job.steps)}`);
    }
    await sleep(job.intervalMs);
    await publish('completed', 100, 'Done');
  });
}

async function withPublisher<T>(url: string, fn: (publisher: Publisher) => Promise<T>): Promise<T> {
  const client = new EventBridgeClient({ endpoint: url, region: process.env['AWS_REGION'] ?? 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    return await fn(createPublisher({ client, eventBusName: process.env['EVENT_BUS_NAME'] ?? 'realtime' }));
  } finally {
    client.destroy();
  }
}

async function authenticate(header: string | string[] | undefined): Promise<string> {
  const value = Array.isArray(header) ? header[0] : header;
  const token = value?.startsWith('Bearer ') ? value.slice(7) : undefined;
  if (!token) throw new HttpError(401, 'Authorization: Bearer <token> is required');
  try {
    const secret = new TextEncoder().encode(process.env['JWT_SECRET'] ?? developmentSecret());
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'], requiredClaims: ['exp'] });
    if (typeof payload.sub !== 'string' || !isValidId(payload.sub)) throw new Error('no subject');
    return payload.sub;
  } catch {
    throw new HttpError(401, 'The token does not verify');
  }
}

/** The demo's development tokens and jobs exist only where the development secret may be used. */
function refuseInProduction(): void {
  if (!demoAllowed()) {
    throw new HttpError(404, 'The demo is available in development only (not with NODE_ENV=production or JWT_JWKS_URL)');
  }
}

/** "Ada Lovelace" → "ada-lovelace". */
export function userIdOf(name: string): string | undefined {
  const id = name
    .trim()
    .toLowerCase()
    .replace(/\s+/g, '-')
    .replace(/[^a-z0-9_-]/g, '')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32);
  return id && isValidId(id) ? id : undefined;
}

let script: Promise<string> | undefined;

/**
 * The page script and the SDK in one browser bundle, built by esbuild in-process on the first
 * request (~100 ms) and kept for the life of the process, so `npm start` needs no build step.
 */
function pageScript(): Promise<string> {
  script ??= bundlePage();
  script.catch(() => (script = undefined)); // a failed build is tried again on the next request
  return script;
}

async function bundlePage(): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [fileURLToPath(new URL('app.ts', WEB_DIR))],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    minify: true,
    sourcemap: 'inline',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('esbuild produced nothing');
  return file.text;
}

function demoAllowed(): boolean {
  return process.env['NODE_ENV'] !== 'production' && !process.env['JWT_JWKS_URL'];
}

function send(res: import('node:http').ServerResponse, status: number, body: string, contentType: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function clamp(value: unknown, min: number, max: number, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(max, Math.max(min, Math.round(value))) : fallback;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
