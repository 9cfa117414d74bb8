/**
 * Arbitrary client frames for the fuzz tests and the security benchmark: random JSON, the real
 * actions with fields of the wrong type, huge strings, deep nesting, broken UTF-8 (as the
 * handler would see it once decoded), and well-formed messages in between.
 */
import fc from 'fast-check';
import { MemoryChannelStore } from '../../functions/adapters/memory/channel-store.ts';
import { MemoryConnectionGateway } from '../../functions/adapters/memory/connection-gateway.ts';
import { MemoryConnectionStore } from '../../functions/adapters/memory/connection-store.ts';
import { MemoryHistoryStore } from '../../functions/adapters/memory/history-store.ts';
import { MemoryPresenceStore } from '../../functions/adapters/memory/presence-store.ts';
import { MemoryRateLimiter } from '../../functions/adapters/memory/rate-limiter.ts';
import { MemorySlotLimiter } from '../../functions/adapters/memory/slot-limiter.ts';
import { MemorySubscriptionStore } from '../../functions/adapters/memory/subscription-store.ts';
import { ChannelAuthorizer } from '../../functions/domain/authorization.ts';
import { Delivery } from '../../functions/domain/delivery.ts';
import { AbuseLimits } from '../../functions/domain/limits.ts';
import { CLIENT_ACTIONS } from '../../functions/domain/messages.ts';
import { nullMetrics, silentLog } from '../../functions/domain/ports.ts';
import { PresenceService } from '../../functions/domain/presence.ts';
import { MessageRouter, type ConnectionContext } from '../../functions/domain/router.ts';
import { FakeClock } from './clock.ts';

/** Put in frames; a reply's `message` must never repeat it (errors never echo input). */
export const MARKER = 'eyJhbGciOiJIUzI1NiJ9.fuzz-marker.c2lnbmF0dXJl';

const channelName = fc.oneof(
  fc.constantFrom('user.alice', 'user.bob', 'jobs.J1', 'docs.D1', 'presence.D1', 'jobs.', 'users.alice', 'user.alice.x', 'user.' + 'a'.repeat(300)),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `docs.${s}`),
  fc.constant(MARKER),
);

const wrongType = fc.oneof(fc.anything({ maxDepth: 3 }), fc.constant(null), fc.double(), fc.boolean(), fc.constant(MARKER));

/** A frame with a real action and plausible, missing or wrongly typed fields. */
const actionFrame = fc
  .record(
    {
      action: fc.oneof(fc.constantFrom(...CLIENT_ACTIONS), fc.constantFrom('Subscribe', 'publish ', '$default', '__proto__', MARKER), wrongType),
      channel: fc.oneof(channelName, wrongType),
      requestId: fc.oneof(fc.string({ maxLength: 20 }), fc.string({ minLength: 129, maxLength: 200 }), wrongType),
      since: fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 }), fc.double(), wrongType),
      documentId: fc.oneof(fc.constantFrom('D1', 'D2'), fc.string({ maxLength: 20 }), wrongType),
      cursor: fc.oneof(fc.record({ x: fc.double(), y: fc.double() }), fc.constant(null), wrongType),
      selection: fc.oneof(fc.record({ slideId: fc.string({ maxLength: 10 }) }), fc.constant(null), wrongType),
      data: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(MARKER)),
      userId: fc.constantFrom('bob', 'admin', MARKER),
      extra: wrongType,
    },
    { requiredKeys: [] },
  )
  .map((frame) => JSON.stringify(frame));

/** Nested arrays/objects `depth` levels deep, around a real action. */
const deepFrame = fc.tuple(fc.integer({ min: 1, max: 400 }), fc.boolean()).map(([depth, arrays]) => {
  const open = arrays ? '['.repeat(depth) : '{"a":'.repeat(depth);
  const close = arrays ? ']'.repeat(depth) : '}'.repeat(depth);
  return `{"action":"publish","channel":"docs.D1","data":${open}1${close}}`;
});

/** Strings around the size limits (40 KB for a message, 32 KB for publish data). */
const hugeFrame = fc.tuple(fc.constantFrom(1_000, 32 * 1024, 40 * 1024 - 60, 40 * 1024 + 1, 100_000), fc.constantFrom('channel', 'data', 'requestId')).map(
  ([size, field]) => JSON.stringify({ action: field === 'data' ? 'publish' : 'subscribe', channel: 'docs.D1', [field]: 'x'.repeat(size) }),
);

/** Random bytes decoded as UTF-8 (invalid sequences become U+FFFD, as any decoder does). */
const brokenUtf8 = fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('utf8'));

/** Any text at all, lone surrogates included. */
const anyText = fc.string({ unit: 'binary', maxLength: 200 });

export const arbitraryFrame: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: actionFrame, weight: 6 },
  { arbitrary: fc.json({ maxDepth: 4 }), weight: 2 },
  { arbitrary: deepFrame, weight: 1 },
  { arbitrary: hugeFrame, weight: 1 },
  { arbitrary: brokenUtf8, weight: 1 },
  { arbitrary: anyText, weight: 1 },
);

/** A frame a real socket can carry to the handler: text under API Gateway's 128 KB frame cap. */
export const arbitrarySocketFrame: fc.Arbitrary<string> = arbitraryFrame.filter((f) => Buffer.byteLength(f, 'utf8') <= 128 * 1024);

/** A router with every feature on memory engines, and one open connection of alice's (editor of D1). */
export function fuzzRouter() {
  const clock = new FakeClock(Date.UTC(2030, 0, 1, 12, 0, 0));
  const metrics = nullMetrics;
  const subscriptions = new MemorySubscriptionStore({ clock });
  const channels = new MemoryChannelStore({ clock });
  const gateway = new MemoryConnectionGateway();
  const delivery = new Delivery({ gateway, subscriptions, connections: new MemoryConnectionStore({ clock }), clock, log: silentLog, metrics });
  const roles = { roleOf: async (documentId: string) => (documentId === 'D1' ? ('editor' as const) : undefined) };
  const limiter = new MemoryRateLimiter({ clock });
  const router = new MessageRouter({
    subscriptions,
    channels,
    gateway,
    authorizer: new ChannelAuthorizer({ channels, documentRoles: roles }),
    clock,
    log: silentLog,
    metrics,
    presence: new PresenceService({ store: new MemoryPresenceStore({ clock }), limiter, subscriptions, gateway, delivery, log: silentLog, metrics }),
    history: new MemoryHistoryStore({ clock }),
    documents: { roles, history: new MemoryHistoryStore({ clock }), delivery, newId: () => `e${clock.now()}-${Math.random()}` },
    // The limits run too (a bucket too big to refuse anything here: test/unit/limits.test.ts refuses).
    limits: new AbuseLimits({ rateLimiter: limiter, slots: new MemorySlotLimiter({ clock }), clock, log: silentLog, metrics }, { messageBurst: 1_000_000 }),
  });
  const ctx: ConnectionContext = { connectionId: 'conn-fuzz', connectedAt: clock.now(), identity: { userId: 'alice' } };
  gateway.open(ctx.connectionId);
  return { clock, router, gateway, ctx, metrics };
}
