/**
 * PresenceStore on Redis (ElastiCache Serverless in production: cluster mode, TLS). Same
 * observable behaviour as MemoryPresenceStore, checked by test/contract/presence-store.contract.ts.
 *
 * Key layout (`rt` is `keyPrefix`). All keys of one document share the hash tag `{documentId}`,
 * so they live in one slot and one Lua script can update them atomically:
 *   rt:presence:{D}:members   HASH  userId -> member JSON (see StoredMember)
 *   rt:presence:{D}:conns     ZSET  connectionId -> lastSeen (epoch ms)
 *   rt:presence:{D}:connuser  HASH  connectionId -> userId
 *   rt:presence:conn:{C}      SET   documentIds connection C joined (another slot: it is never
 *                                   touched by the same script as a document's keys)
 *
 * Every change to a document is ONE Lua script: it first sweeps the document (removes the
 * connections last seen before now - timeoutMs, then the members left without a connection,
 * and returns those as `expired`), then applies the change and refreshes PEXPIRE on the
 * document's keys to 2 x timeoutMs (or deletes them when no connection is left), so an
 * abandoned document disappears on its own. Sweeping only happens in mutating calls, inside
 * the script that reports it, so an expiry is reported exactly once; `members()` only filters
 * stale connections out, it deletes nothing. `update` of a connection that is not (or no longer
 * live) in the document changes nothing and returns undefined (so it cannot swallow expiry
 * notices it would have nowhere to report).
 *
 * Time comes from the injected clock (passed to the scripts, never Redis TIME), so tests drive
 * it with a FakeClock. Colors: TS passes the palette rotated to the user's preferred color;
 * the script takes the first one no other member has (pickColor's walk), or the preferred one
 * when all are taken. Inside Lua the member is handled with cjson, which would round numbers to
 * 14 digits, so cursor and selection are kept as JSON strings inside the member JSON and only
 * TS parses them.
 *
 * Errors: an unreachable Redis (refused, closed, timed out, cluster down...) becomes
 * PresenceUnavailableError with the ioredis error as `cause` (see callRedis in client.ts).
 */
import type { Cluster, Redis } from 'ioredis';
import {
  systemClock,
  type Clock,
  type PresenceConnection,
  type PresenceDeparture,
  type PresenceJoin,
  type PresenceStore,
} from '../../domain/ports.ts';
import {
  PRESENCE_PALETTE,
  preferredColorIndex,
  type PresenceCursor,
  type PresenceMember,
  type PresenceSelection,
} from '../../domain/presence-types.ts';
import { callRedis, defineScript } from './client.ts';

export interface RedisPresenceStoreOptions {
  /** An ioredis client, built by createRedisClient (client.ts) in the handlers. */
  client: Redis | Cluster;
  clock?: Clock;
  /** A connection not heard from (join, update, touch) for this long expires. Default 30000. */
  timeoutMs?: number;
  /** First segment of every key. Default 'rt'. */
  keyPrefix?: string;
}

export const DEFAULT_PRESENCE_TIMEOUT_MS = 30_000;

/** A member as stored in the `members` hash: cursor and selection stay JSON text (see header). */
interface StoredMember {
  userId: string;
  name: string;
  avatar?: string;
  color: string;
  lastSeen: string;
  cursor?: string;
  selection?: string;
}

type Script = (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

export class RedisPresenceStore implements PresenceStore {
  private readonly client: Redis | Cluster;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly prefix: string;
  private readonly scripts: {
    join: Script;
    update: Script;
    touch: Script;
    leave: Script;
    members: Script;
    indexAdd: Script;
    indexPrune: Script;
  };

  constructor(options: RedisPresenceStoreOptions) {
    this.client = options.client;
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_PRESENCE_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
    this.prefix = options.keyPrefix ?? 'rt';
    const c = this.client;
    this.scripts = {
      join: defineScript(c, 'rtPresenceJoin', DOCUMENT_LUA + JOIN_LUA, 3),
      update: defineScript(c, 'rtPresenceUpdate', DOCUMENT_LUA + UPDATE_LUA, 3),
      touch: defineScript(c, 'rtPresenceTouch', DOCUMENT_LUA + TOUCH_LUA, 3),
      leave: defineScript(c, 'rtPresenceLeave', DOCUMENT_LUA + LEAVE_LUA, 3),
      members: defineScript(c, 'rtPresenceMembers', DOCUMENT_LUA + MEMBERS_LUA, 3),
      indexAdd: defineScript(c, 'rtPresenceIndexAdd', INDEX_ADD_LUA, 1),
      indexPrune: defineScript(c, 'rtPresenceIndexPrune', INDEX_PRUNE_LUA, 1),
    };
  }

  /** The keys of one document, in the order the scripts expect (members, conns, connuser). */
  documentKeys(documentId: string): [string, string, string] {
    const base = `${this.prefix}:presence:{${documentId}}`;
    return [`${base}:members`, `${base}:conns`, `${base}:connuser`];
  }

  /** The set of documents a connection joined. */
  connectionKey(connectionId: string): string {
    return `${this.prefix}:presence:conn:{${connectionId}}`;
  }

  async join(documentId: string, connection: PresenceConnection): Promise<PresenceJoin> {
    const now = this.clock.now();
    const profile: Record<string, string> = {
      userId: wellFormed(connection.userId),
      name: wellFormed(connection.name),
    };
    if (connection.avatar !== undefined) profile['avatar'] = wellFormed(connection.avatar);
    const start = preferredColorIndex(connection.userId);
    const palette = PRESENCE_PALETTE.map((_, i) => PRESENCE_PALETTE[(start + i) % PRESENCE_PALETTE.length] as string);
    // The index first: a connection the index missed could not be found by leaveAll.
    await this.call(() =>
      this.scripts.indexAdd([this.connectionKey(connection.connectionId)], [documentId, this.keyTtlMs]),
    );
    const reply = await this.call(() =>
      this.scripts.join(this.documentKeys(documentId), [
        ...this.timeArgs(now),
        connection.connectionId,
        profile['userId'] as string,
        JSON.stringify(profile),
        ...palette,
      ]),
    );
    const [joined, member, members, departed] = asTuple(reply, 4);
    return {
      member: toMember(member),
      joined: joined === 1,
      members: sortMembers(asStrings(members).map(toMember)),
      expired: departures(documentId, departed),
    };
  }

  async update(
    documentId: string,
    connectionId: string,
    patch: { cursor?: PresenceCursor | null; selection?: PresenceSelection | null },
  ): Promise<{ member: PresenceMember; expired: PresenceDeparture[] } | undefined> {
    const now = this.clock.now();
    const field = (value: unknown): [string, string] =>
      value === undefined ? ['', ''] : value === null ? ['clear', ''] : ['set', JSON.stringify(value)];
    const [reply] = await this.call(() =>
      Promise.all([
        this.scripts.update(this.documentKeys(documentId), [
          ...this.timeArgs(now),
          connectionId,
          ...field(patch.cursor),
          ...field(patch.selection),
        ]),
        // An update keeps the connection alive like a touch: its index must live on too.
        this.client.pexpire(this.connectionKey(connectionId), this.keyTtlMs),
      ]),
    );
    const [found, member, departed] = asTuple(reply, 1);
    if (found !== 1) return undefined;
    return { member: toMember(member), expired: departures(documentId, departed) };
  }

  async touch(connectionId: string): Promise<{ documentIds: string[]; expired: PresenceDeparture[] }> {
    const now = this.clock.now();
    const indexKey = this.connectionKey(connectionId);
    const documentIds = (await this.call(() => this.client.smembers(indexKey))).sort(compare);
    if (documentIds.length === 0) return { documentIds: [], expired: [] };
    // One script per document, all sent at once: the documents live in different slots
    // (possibly on different nodes), so neither a MULTI nor a Pipeline (a Cluster pipeline
    // must stay in one slot); ioredis writes them back to back all the same.
    const replies = await this.call(() =>
      Promise.all(
        documentIds.map((documentId) =>
          this.scripts.touch(this.documentKeys(documentId), [...this.timeArgs(now), connectionId]),
        ),
      ),
    );
    const present: string[] = [];
    const gone: string[] = [];
    const expired: PresenceDeparture[] = [];
    replies.forEach((reply, i) => {
      const documentId = documentIds[i] as string;
      const [isPresent, departed] = asTuple(reply, 2);
      (isPresent === 1 ? present : gone).push(documentId);
      expired.push(...departures(documentId, departed));
    });
    await this.call(() => this.scripts.indexPrune([indexKey], [this.keyTtlMs, ...gone]));
    return { documentIds: present, expired };
  }

  async leave(
    documentId: string,
    connectionId: string,
  ): Promise<{ left: PresenceDeparture | undefined; expired: PresenceDeparture[] }> {
    const now = this.clock.now();
    const [reply] = await this.call(() =>
      Promise.all([
        this.scripts.leave(this.documentKeys(documentId), [...this.timeArgs(now), connectionId]),
        this.client.srem(this.connectionKey(connectionId), documentId),
      ]),
    );
    return leaveResult(documentId, reply);
  }

  async leaveAll(connectionId: string): Promise<{ left: PresenceDeparture[]; expired: PresenceDeparture[] }> {
    const now = this.clock.now();
    const indexKey = this.connectionKey(connectionId);
    const documentIds = (await this.call(() => this.client.smembers(indexKey))).sort(compare);
    const replies = await this.call(() =>
      Promise.all(
        documentIds.map((documentId) =>
          this.scripts.leave(this.documentKeys(documentId), [...this.timeArgs(now), connectionId]),
        ),
      ),
    );
    await this.call(() => this.client.del(indexKey));
    const left: PresenceDeparture[] = [];
    const expired: PresenceDeparture[] = [];
    replies.forEach((reply, i) => {
      const result = leaveResult(documentIds[i] as string, reply);
      if (result.left) left.push(result.left);
      expired.push(...result.expired);
    });
    return { left, expired };
  }

  async members(documentId: string): Promise<PresenceMember[]> {
    const now = this.clock.now();
    const reply = await this.call(() => this.scripts.members(this.documentKeys(documentId), this.timeArgs(now)));
    return sortMembers(asStrings(reply).map(toMember));
  }

  async ping(): Promise<void> {
    await this.call(() => this.client.ping());
  }

  /** Client calls only (our own parsing stays outside): unreachable -> PresenceUnavailableError. */
  private call<T>(fn: () => Promise<T>): Promise<T> {
    return callRedis(this.client, fn);
  }

  private get keyTtlMs(): number {
    return 2 * this.timeoutMs;
  }

  /** ARGV[1..4] of every document script: now, cutoff (older is expired), key TTL, now ISO. */
  private timeArgs(now: number): string[] {
    return [String(now), String(now - this.timeoutMs), String(this.keyTtlMs), new Date(now).toISOString()];
  }
}

// ---------------------------------------------------------------------------------------------
// Lua. KEYS[1] members, KEYS[2] conns, KEYS[3] connuser.
// ARGV[1] now (ms), ARGV[2] cutoff (a connection last seen before it is expired), ARGV[3] key
// TTL (ms), ARGV[4] now as ISO 8601, then the script's own arguments.

const DOCUMENT_LUA = `
local members, conns, connuser = KEYS[1], KEYS[2], KEYS[3]
local now, cutoff, ttl, nowIso = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

-- Users that still have a connection in the document (a set).
local function usersWithConnections()
  local users = {}
  local values = redis.call('HVALS', connuser)
  for i = 1, #values do users[values[i]] = true end
  return users
end

-- Removes the connections last seen before the cutoff, then the members left without one;
-- returns those members' user ids.
local function sweep()
  local departed = {}
  local stale = redis.call('ZRANGEBYSCORE', conns, '-inf', '(' .. cutoff)
  if #stale == 0 then return departed end
  local candidates = {}
  for i = 1, #stale do
    local user = redis.call('HGET', connuser, stale[i])
    redis.call('ZREM', conns, stale[i])
    redis.call('HDEL', connuser, stale[i])
    if user then candidates[#candidates + 1] = user end
  end
  local present = usersWithConnections()
  local seen = {}
  for i = 1, #candidates do
    local user = candidates[i]
    if not present[user] and not seen[user] then
      seen[user] = true
      if redis.call('HDEL', members, user) == 1 then departed[#departed + 1] = user end
    end
  end
  return departed
end

-- After a change: the document's keys live 2 x timeout from now, or go when nobody is left.
local function finish()
  if redis.call('ZCARD', conns) == 0 then
    redis.call('DEL', members, conns, connuser)
  else
    redis.call('PEXPIRE', members, ttl)
    redis.call('PEXPIRE', conns, ttl)
    redis.call('PEXPIRE', connuser, ttl)
  end
end

local function setLastSeen(userId)
  local raw = redis.call('HGET', members, userId)
  if not raw then return nil end
  local member = cjson.decode(raw)
  member.lastSeen = nowIso
  local encoded = cjson.encode(member)
  redis.call('HSET', members, userId, encoded)
  return encoded
end
`;

/** ARGV[5] connectionId, ARGV[6] userId, ARGV[7] profile JSON, ARGV[8..] the palette from the
 * user's preferred color on. Returns {joined, member, members, departed}. */
const JOIN_LUA = `
local connectionId, userId, profile = ARGV[5], ARGV[6], ARGV[7]
local departed = sweep()
-- The same connection joining as another user: it stops counting for the previous one.
local previous = redis.call('HGET', connuser, connectionId)
if previous and previous ~= userId then
  redis.call('ZREM', conns, connectionId)
  redis.call('HDEL', connuser, connectionId)
  if not usersWithConnections()[previous] and redis.call('HDEL', members, previous) == 1 then
    departed[#departed + 1] = previous
  end
end
local joined = 1
if usersWithConnections()[userId] then joined = 0 end
local member
local raw = redis.call('HGET', members, userId)
if raw then
  member = cjson.decode(raw)
else
  member = cjson.decode(profile)
  local taken = {}
  local others = redis.call('HVALS', members)
  for i = 1, #others do
    local color = cjson.decode(others[i]).color
    if color then taken[color] = true end
  end
  member.color = ARGV[8]
  for i = 8, #ARGV do
    if not taken[ARGV[i]] then
      member.color = ARGV[i]
      break
    end
  end
end
member.lastSeen = nowIso
local encoded = cjson.encode(member)
redis.call('HSET', members, userId, encoded)
redis.call('ZADD', conns, now, connectionId)
redis.call('HSET', connuser, connectionId, userId)
finish()
return {joined, encoded, redis.call('HVALS', members), departed}
`;

/** ARGV[5] connectionId, ARGV[6] cursor op ('' keep, 'set', 'clear'), ARGV[7] cursor JSON,
 * ARGV[8] selection op, ARGV[9] selection JSON. Returns {0} (not in the document; nothing
 * changed, nothing swept) or {1, member, departed}. */
const UPDATE_LUA = `
local connectionId = ARGV[5]
local score = redis.call('ZSCORE', conns, connectionId)
if not score or tonumber(score) < tonumber(cutoff) then return {0} end
local userId = redis.call('HGET', connuser, connectionId)
local raw = userId and redis.call('HGET', members, userId)
if not raw then return {0} end
local departed = sweep()
local member = cjson.decode(raw)
if ARGV[6] == 'set' then member.cursor = ARGV[7] elseif ARGV[6] == 'clear' then member.cursor = nil end
if ARGV[8] == 'set' then member.selection = ARGV[9] elseif ARGV[8] == 'clear' then member.selection = nil end
member.lastSeen = nowIso
local encoded = cjson.encode(member)
redis.call('HSET', members, userId, encoded)
redis.call('ZADD', conns, now, connectionId)
finish()
return {1, encoded, departed}
`;

/** ARGV[5] connectionId. Returns {present, departed}. */
const TOUCH_LUA = `
local connectionId = ARGV[5]
local departed = sweep()
if not redis.call('ZSCORE', conns, connectionId) then
  finish()
  return {0, departed}
end
redis.call('ZADD', conns, now, connectionId)
local userId = redis.call('HGET', connuser, connectionId)
if userId then setLastSeen(userId) end
finish()
return {1, departed}
`;

/** ARGV[5] connectionId. Returns {left, userId, departed}. */
const LEAVE_LUA = `
local connectionId = ARGV[5]
local departed = sweep()
local userId = redis.call('HGET', connuser, connectionId)
local left = 0
redis.call('ZREM', conns, connectionId)
redis.call('HDEL', connuser, connectionId)
if userId and not usersWithConnections()[userId] and redis.call('HDEL', members, userId) == 1 then left = 1 end
finish()
return {left, userId or '', departed}
`;

/** Read only: the members with a live connection (stale ones are filtered, never deleted). */
const MEMBERS_LUA = `
local live = redis.call('ZRANGEBYSCORE', conns, cutoff, '+inf')
local seen, out = {}, {}
for i = 1, #live do
  local userId = redis.call('HGET', connuser, live[i])
  if userId and not seen[userId] then
    seen[userId] = true
    local raw = redis.call('HGET', members, userId)
    if raw then out[#out + 1] = raw end
  end
end
return out
`;

/** KEYS[1] a connection's document set; ARGV[1] documentId, ARGV[2] TTL (ms). */
const INDEX_ADD_LUA = `
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** KEYS[1] a connection's document set; ARGV[1] TTL (ms), ARGV[2..] documents to forget. */
const INDEX_PRUNE_LUA = `
for i = 2, #ARGV do redis.call('SREM', KEYS[1], ARGV[i]) end
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 1
`;

// ---------------------------------------------------------------------------------------------

function toMember(raw: unknown): PresenceMember {
  const stored = JSON.parse(asString(raw)) as StoredMember;
  const member: PresenceMember = {
    userId: stored.userId,
    name: stored.name,
    color: stored.color,
    lastSeen: stored.lastSeen,
  };
  if (stored.avatar !== undefined) member.avatar = stored.avatar;
  if (stored.cursor !== undefined) member.cursor = JSON.parse(stored.cursor) as PresenceCursor;
  if (stored.selection !== undefined) member.selection = JSON.parse(stored.selection) as PresenceSelection;
  return member;
}

function leaveResult(
  documentId: string,
  reply: unknown,
): { left: PresenceDeparture | undefined; expired: PresenceDeparture[] } {
  const [hasLeft, userId, departed] = asTuple(reply, 3);
  return {
    left: hasLeft === 1 ? { documentId, userId: asString(userId) } : undefined,
    expired: departures(documentId, departed),
  };
}

function departures(documentId: string, userIds: unknown): PresenceDeparture[] {
  return asStrings(userIds)
    .sort(compare)
    .map((userId) => ({ documentId, userId }));
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const sortMembers = (members: PresenceMember[]): PresenceMember[] =>
  members.sort((a, b) => compare(a.userId, b.userId));

function asTuple(reply: unknown, minLength: number): unknown[] {
  if (!Array.isArray(reply) || reply.length < minLength) {
    throw new Error(`Unexpected presence script reply: ${JSON.stringify(reply)}`);
  }
  return reply as unknown[];
}

function asString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw new Error(`Unexpected presence script value: ${JSON.stringify(value)}`);
}

function asStrings(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`Unexpected presence script value: ${JSON.stringify(value)}`);
  return value.map(asString);
}

/** Lone UTF-16 surrogates become U+FFFD: Redis' cjson rejects them (a `\ud800` escape) and
 * they could not survive the UTF-8 round trip anyway. */
function wellFormed(value: string): string {
  return value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
