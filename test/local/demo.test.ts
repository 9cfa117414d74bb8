/**
 * The demo's routes on the local runtime: the page and its script with the right content
 * types, development tokens with a role on the demo deck, simulated jobs for the token's user,
 * and nothing of it when NODE_ENV=production.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DOCUMENT, userIdOf } from '../../local/demo/routes.ts';
import { startProduct, type Product } from '../e2e/support.ts';

let product: Product;
const savedNodeEnv = process.env['NODE_ENV'];

beforeAll(async () => {
  product = await startProduct();
});
afterAll(async () => {
  await product?.close();
});
afterEach(() => {
  if (savedNodeEnv === undefined) delete process.env['NODE_ENV'];
  else process.env['NODE_ENV'] = savedNodeEnv;
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${product.runtime.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('the demo routes', () => {
  it('serve the page as HTML and its script, bundled with the SDK, as JavaScript', async () => {
    const page = await fetch(`${product.runtime.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="module" src="/demo/app.js">');
    const script = await fetch(`${product.runtime.url}/demo/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain('fallback-sse');
  });

  it('mint a development token for a name, with an editor role on the demo deck', async () => {
    const res = await post('/demo/token', { name: 'Grace Hopper' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; userId: string; documentId: string };
    expect(body).toMatchObject({ userId: 'grace-hopper', documentId: DEMO_DOCUMENT });
    const client = await product.connectWithToken(body.token);
    await client.subscribe(`presence.${DEMO_DOCUMENT}`);
    const snapshot = await client.waitFor((m) => m.event === 'presence:snapshot');
    expect(snapshot).toMatchObject({ members: [{ userId: 'grace-hopper', name: 'Grace Hopper' }] });
  });

  it('refuse a name with nothing usable in it', async () => {
    expect((await post('/demo/token', { name: '!!!' })).status).toBe(400);
    expect((await post('/demo/token', {})).status).toBe(400);
    expect(userIdOf('  Ada  Lovelace ')).toBe('ada-lovelace');
  });

  it('run a simulated job for the token\'s user through the worker publisher, to completed', async () => {
    const { token } = (await (await post('/demo/token', { name: 'Hedy' })).json()) as { token: string };
    const client = await product.connectWithToken(token);
    await client.subscribe('jobs.demo-J1');
    const res = await post('/demo/jobs', { jobId: 'demo-J1', steps: 2, intervalMs: 50 }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(202);
    await client.waitFor((m) => m.event === 'job:update' && m.data.status === 'completed');
    const job = await product.stores.channels.getJob('demo-J1');
    expect(job).toMatchObject({ userId: 'hedy', status: 'completed', progress: 100 });
  });

  it('start no job without a valid token', async () => {
    expect((await post('/demo/jobs', {})).status).toBe(401);
    expect((await post('/demo/jobs', {}, { authorization: 'Bearer not-a-jwt' })).status).toBe(401);
  });

  it('are off with NODE_ENV=production, like the development secret', async () => {
    process.env['NODE_ENV'] = 'production';
    expect((await post('/demo/token', { name: 'Mallory' })).status).toBe(404);
    expect((await fetch(`${product.runtime.url}/demo/app.js`)).status).toBe(404);
    const root = await fetch(`${product.runtime.url}/`);
    expect(root.status).toBe(426);
    expect(root.headers.get('upgrade')).toBe('websocket');
  });
});
