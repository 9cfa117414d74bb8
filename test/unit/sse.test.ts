/**
 * The SSE stream session with memory stores, a fake clock and a sleep that moves it: what a
 * stream writes, when, and what it reads.
 */
import { describe, expect, it } from 'vitest';
import { MemoryChannelStore } from '../../functions/adapters/memory/channel-store.ts';
import { MemoryDocumentRoleStore } from '../../functions/adapters/memory/document-role-store.ts';
import { MemoryHistoryStore } from '../../functions/adapters/memory/history-store.ts';
import { ChannelAuthorizer } from '../../functions/domain/authorization.ts';
import { parseChannel, type Channel } from '../../functions/domain/channels.ts';
import { RealtimeError } from '../../functions/domain/errors.ts';
import { jobUpdateData } from '../../functions/domain/jobs.ts';
import type { ChannelMessage, JobStatus } from '../../functions/domain/messages.ts';
import { systemClock, type ChannelStore, type Log, type LogAttributes } from '../../functions/domain/ports.ts';
import { encodeResumeToken } from '../../functions/domain/resume-token.ts';
import { SseService, abortableSleep, type SseOptions, type SseSink, type SseStreamReport, type Sleep } from '../../functions/domain/sse.ts';
import { FakeClock } from '../support/clock.ts';
import { SseParser, positionsOf, type SseItem, type SseMessage } from '../support/sse.ts';
import { RecordingMetrics } from './domain-fakes.ts';

const HOUR_SEC = 3600;

/** A sink that parses what it gets and remembers when (fake time) each chunk came. */
class TestSink implements SseSink {
  readonly items: { at: number; item: SseItem }[] = [];
  writesAfterClose = 0;
  readonly #controller = new AbortController();
  readonly #parser = new SseParser();
  /** Closes the sink (the client goes away) once this holds after a write. */
  closeWhen: ((sink: TestSink) => boolean) | undefined;

  constructor(private readonly clock: { now(): number }) {}

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get closed(): boolean {
    return this.#controller.signal.aborted;
  }

  close(): void {
    this.#controller.abort();
  }

  write(chunk: string): Promise<void> {
    if (this.closed) {
      this.writesAfterClose++;
      return Promise.resolve();
    }
    for (const item of this.#parser.feed(chunk)) this.items.push({ at: this.clock.now(), item });
    if (this.closeWhen?.(this)) this.close();
    return Promise.resolve();
  }

  get events(): SseMessage[] {
    return this.items.flatMap(({ item }) => (item.kind === 'event' ? [item.message] : []));
  }

  /** Events with their parsed data, and when they were written. */
  get timeline(): { at: number; event: string; id: string | undefined; data: Record<string, unknown> }[] {
    return this.items.flatMap(({ at, item }) =>
      item.kind === 'event' ? [{ at, event: item.message.event, id: item.message.id, data: JSON.parse(item.message.data) as Record<string, unknown> }] : [],
    );
  }

  /** The channel messages (job updates, notifications, document events) in order. */
  get messages(): ChannelMessage[] {
    return this.timeline.filter((e) => ['job:update', 'notification', 'doc:event'].includes(e.event)).map((e) => e.data as unknown as ChannelMessage);
  }

  offsets(channel: string): number[] {
    return this.messages.filter((m) => m.channel === channel).map((m) => m.offset);
  }

  named(event: string): Record<string, unknown>[] {
    return this.timeline.filter((e) => e.event === event).map((e) => e.data);
  }
}

function setup(options: SseOptions = {}) {
  const clock = new FakeClock(Date.UTC(2030, 0, 1));
  const start = clock.nowMs;
  const store = new MemoryChannelStore({ clock });
  const history = new MemoryHistoryStore({ clock });
  const roles = new MemoryDocumentRoleStore({ clock });
  const metrics = new RecordingMetrics();
  const logs: { level: string; message: string; attributes?: LogAttributes }[] = [];
  const log: Log = {
    debug: (message, attributes) => logs.push({ level: 'debug', message, ...(attributes ? { attributes } : {}) }),
    info: (message, attributes) => logs.push({ level: 'info', message, ...(attributes ? { attributes } : {}) }),
    warn: (message, attributes) => logs.push({ level: 'warn', message, ...(attributes ? { attributes } : {}) }),
    error: (message, attributes) => logs.push({ level: 'error', message, ...(attributes ? { attributes } : {}) }),
  };
  /** When heads() was called (ms since the start) and for which channels. */
  const polls: { at: number; channels: readonly string[] }[] = [];
  let failHeads = 0;
  const channels: ChannelStore = {
    applyJobUpdate: (...args) => store.applyJobUpdate(...args),
    getJob: (jobId) => store.getJob(jobId),
    advance: (...args) => store.advance(...args),
    heads: async (names) => {
      polls.push({ at: clock.nowMs - start, channels: [...names] });
      if (failHeads > 0) {
        failHeads--;
        throw new Error('DynamoDB is unhappy');
      }
      return store.heads(names);
    },
  };
  // Things that happen while the stream sleeps, at fake times (ms since the start).
  const timeline: { at: number; run: () => Promise<unknown> | unknown }[] = [];
  const sleeps: number[] = [];
  const sleep: Sleep = async (ms, signal) => {
    sleeps.push(ms);
    const until = clock.nowMs + ms;
    for (;;) {
      const next = timeline[0];
      if (!next || start + next.at > until || signal.aborted) break;
      timeline.shift();
      clock.nowMs = Math.max(clock.nowMs, start + next.at);
      await next.run();
    }
    if (!signal.aborted) clock.nowMs = until;
  };
  const authorizer = new ChannelAuthorizer({ channels, documentRoles: roles });
  const service = new SseService({ channels, history, authorizer, clock, log, metrics, sleep }, {
    heartbeatMs: 15_000,
    pollMinMs: 200,
    pollMaxMs: 1000,
    retryMs: 2000,
    gapGraceMs: 1000,
    ...options,
  });
  const sink = new TestSink(clock);
  let event = 0;
  const expiresAt = (): number => clock.inSeconds(HOUR_SEC);

  const world = {
    clock,
    start,
    store,
    history,
    roles,
    metrics,
    logs,
    polls,
    sleeps,
    sink,
    service,
    /** `run` happens at `at` ms after the start, while the stream waits. */
    at(at: number, run: () => Promise<unknown> | unknown): void {
      timeline.push({ at, run });
      timeline.sort((a, b) => a.at - b.at);
    },
    failNextHeads(times: number): void {
      failHeads = times;
    },
    /** A job update applied as the fan-out does: the head first, then history (unless `history: false`). */
    async job(jobId: string, userId: string, status: JobStatus, extra: { progress?: number; history?: boolean } = {}): Promise<ChannelMessage> {
      const detail = { jobId, userId, status, timestamp: new Date(clock.now()).toISOString(), ...(extra.progress !== undefined ? { progress: extra.progress } : {}) };
      const outcome = await store.applyJobUpdate(detail, `evt-${++event}`, expiresAt());
      if (outcome.kind !== 'applied') throw new Error(`not applied: ${outcome.kind}`);
      const message: ChannelMessage = { event: 'job:update', channel: `jobs.${jobId}`, offset: outcome.state.offset, data: jobUpdateData(outcome.state) };
      if (extra.history !== false) await history.append(message.channel, message, expiresAt());
      return message;
    },
    async notify(userId: string, title: string, options: { history?: boolean } = {}): Promise<ChannelMessage> {
      const channel = `user.${userId}`;
      const { offset } = await store.advance(channel, `evt-${++event}`, expiresAt());
      const message: ChannelMessage = { event: 'notification', channel, offset, data: { userId, title } };
      if (options.history !== false) await history.append(channel, message, expiresAt());
      return message;
    },
    async docEvent(documentId: string, userId: string, data: unknown): Promise<ChannelMessage> {
      const channel = `docs.${documentId}`;
      const { offset } = await store.advance(channel, `evt-${++event}`, expiresAt());
      const message: ChannelMessage = { event: 'doc:event', channel, offset, userId, data };
      await history.append(channel, message, expiresAt());
      return message;
    },
    stream(request: { channels: string[]; userId?: string; lastEventId?: string; budgetMs?: number }): Promise<SseStreamReport> {
      return service.stream({
        identity: { userId: request.userId ?? 'alice' },
        channels: request.channels.map(channel),
        budgetMs: request.budgetMs ?? 5000,
        sink,
        ...(request.lastEventId !== undefined ? { lastEventId: request.lastEventId } : {}),
      });
    },
  };
  return world;
}

function channel(name: string): Channel {
  const parsed = parseChannel(name);
  if (!parsed) throw new Error(`not a channel: ${name}`);
  return parsed;
}

const token = (positions: Record<string, number>): string => encodeResumeToken(new Map(Object.entries(positions)));

/** Every channel's offsets on the stream strictly increase, and every id covers what was delivered. */
function expectOrderedOnce(sink: TestSink): void {
  const last = new Map<string, number>();
  for (const { event, id, data } of sink.timeline) {
    if (!['job:update', 'notification', 'doc:event'].includes(event)) continue;
    const channelName = data['channel'] as string;
    const offset = data['offset'] as number;
    expect(offset, `${channelName} went backwards or repeated`).toBeGreaterThan(last.get(channelName) ?? 0);
    last.set(channelName, offset);
    expect(positionsOf(id)[channelName]).toBe(offset);
  }
}

describe('SseService', () => {
  describe('authorize', () => {
    it('applies the WebSocket subscribe rules to every channel and throws the first refusal', async () => {
      // Prepare
      const w = setup();
      await w.job('J1', 'bob', 'running');
      // Act
      const refused = w.service.authorize({ userId: 'alice' }, [channel('user.alice'), channel('jobs.J1'), channel('user.bob')]);
      // Assess
      await expect(refused).rejects.toMatchObject({ code: 'PERMISSION_DENIED', channel: 'jobs.J1' });
      expect(w.metrics.total('SubscriptionsDenied')).toBe(1);
    });

    it("accepts the user's own channel, a job not published yet and a document with a role", async () => {
      const w = setup();
      await w.roles.setRole('D1', 'alice', 'viewer', w.clock.now());
      await expect(w.service.authorize({ userId: 'alice' }, [channel('user.alice'), channel('jobs.NEW'), channel('docs.D1')])).resolves.toBeUndefined();
    });

    it('refuses a document without a role', async () => {
      const w = setup();
      await expect(w.service.authorize({ userId: 'alice' }, [channel('docs.D1')])).rejects.toBeInstanceOf(RealtimeError);
    });
  });

  describe('open', () => {
    it("sends the retry hint, a subscribed event per channel, then the current state of the user's job", async () => {
      // Prepare: J1 has a state (offset 2), alice has one notification, J2 has none
      const w = setup();
      await w.job('J1', 'alice', 'queued');
      await w.job('J1', 'alice', 'running', { progress: 40 });
      await w.notify('alice', 'hello');
      // Act
      await w.stream({ channels: ['jobs.J1', 'user.alice', 'jobs.J2'], budgetMs: 1000 });
      // Assess
      expect(w.sink.items[0]?.item).toEqual({ kind: 'retry', ms: 2000 });
      const [s1, s2, s3, state, ...rest] = w.sink.timeline;
      expect([s1, s2, s3].map((e) => e?.data)).toEqual([
        { event: 'subscribed', channel: 'jobs.J1' },
        { event: 'subscribed', channel: 'user.alice' },
        { event: 'subscribed', channel: 'jobs.J2' },
      ]);
      // The id covers every channel: live from the head, just before the state about to follow.
      expect(positionsOf(s1?.id)).toEqual({ 'jobs.J1': 1, 'user.alice': 1, 'jobs.J2': 0 });
      expect(state).toMatchObject({
        event: 'job:update',
        data: { event: 'job:update', channel: 'jobs.J1', offset: 2, data: { type: 'job.update', jobId: 'J1', status: 'running', progress: 40 } },
      });
      expect(positionsOf(state?.id)).toEqual({ 'jobs.J1': 2, 'user.alice': 1, 'jobs.J2': 0 });
      expect(rest).toEqual([]);
    });

    it('does not send the state of a job without one, nor old notifications', async () => {
      const w = setup();
      await w.notify('alice', 'old');
      await w.stream({ channels: ['jobs.J2', 'user.alice'], budgetMs: 1000 });
      expect(w.sink.messages).toEqual([]);
    });
  });

  describe('live delivery', () => {
    it('delivers job updates and notifications as they are published, with the WebSocket envelope and ids covering every channel', async () => {
      // Prepare
      const w = setup();
      const published: ChannelMessage[] = [];
      w.at(300, async () => published.push(await w.job('J1', 'alice', 'running', { progress: 10 })));
      w.at(1700, async () => published.push(await w.notify('alice', 'Bob mentioned you')));
      w.at(2900, async () => published.push(await w.job('J1', 'alice', 'completed', { progress: 100 })));
      // Act
      await w.stream({ channels: ['jobs.J1', 'user.alice'], budgetMs: 4000 });
      // Assess
      expect(w.sink.messages).toEqual(published);
      const delivered = w.sink.timeline.filter((e) => e.event !== 'subscribed');
      expect(delivered.map((e) => e.event)).toEqual(['job:update', 'notification', 'job:update']);
      expect(delivered.map((e) => positionsOf(e.id))).toEqual([
        { 'jobs.J1': 1, 'user.alice': 0 },
        { 'jobs.J1': 1, 'user.alice': 1 },
        { 'jobs.J1': 2, 'user.alice': 1 },
      ]);
      expectOrderedOnce(w.sink);
    });

    it('reaches the client within the idle poll interval of a publish', async () => {
      const w = setup();
      w.at(4321, () => w.notify('alice', 'late'));
      await w.stream({ channels: ['user.alice'], budgetMs: 6000 });
      const [delivered] = w.sink.timeline.filter((e) => e.event === 'notification');
      expect((delivered?.at ?? Infinity) - w.start - 4321).toBeLessThanOrEqual(1000);
    });
  });

  describe('polling', () => {
    it('reads every head in one call per poll, backing off from 200 ms to 1 s while idle and back to 200 ms after activity', async () => {
      // Prepare
      const w = setup();
      w.at(2500, () => w.notify('alice', 'wake up'));
      // Act
      await w.stream({ channels: ['jobs.J1', 'user.alice'], budgetMs: 5000 });
      // Assess
      const times = w.polls.map((p) => p.at);
      expect(times).toEqual([0, 200, 600, 1400, 2400, 3400, 3600, 4000, 4800]);
      expect(w.polls.every((p) => p.channels.join() === 'jobs.J1,user.alice')).toBe(true);
    });

    it('keeps going after a failed poll and ends with a temporary error after three in a row', async () => {
      // Prepare
      const w = setup();
      w.at(100, () => w.failNextHeads(2));
      w.at(1000, () => w.notify('alice', 'still here'));
      w.at(2000, () => w.failNextHeads(3));
      // Act
      const report = await w.stream({ channels: ['user.alice'], budgetMs: 10_000 });
      // Assess
      expect(w.sink.offsets('user.alice')).toEqual([1]);
      expect(w.logs.filter((l) => l.message === 'sse poll failed')).toHaveLength(4);
      expect(report.reason).toBe('failed');
      expect(w.sink.named('error').at(-1)).toMatchObject({ event: 'error', code: 'INTERNAL' });
    });
  });

  describe('resume (Last-Event-ID)', () => {
    it('replays what the client missed on every channel, in order, then continues live', async () => {
      // Prepare
      const w = setup();
      for (let i = 1; i <= 5; i++) await w.job('J1', 'alice', 'running', { progress: i * 10 });
      for (let i = 1; i <= 3; i++) await w.notify('alice', `n${i}`);
      w.at(300, () => w.job('J1', 'alice', 'completed'));
      // Act
      await w.stream({ channels: ['jobs.J1', 'user.alice'], lastEventId: token({ 'jobs.J1': 2, 'user.alice': 1 }), budgetMs: 2000 });
      // Assess
      expect(w.sink.offsets('jobs.J1')).toEqual([3, 4, 5, 6]);
      expect(w.sink.offsets('user.alice')).toEqual([2, 3]);
      expect(positionsOf(w.sink.timeline[0]?.id)).toEqual({ 'jobs.J1': 2, 'user.alice': 1 });
      expect(w.sink.named('recovery')).toEqual([]);
      expectOrderedOnce(w.sink);
    });

    it('sends nothing again to a client that is up to date (not even the job state)', async () => {
      const w = setup();
      await w.job('J1', 'alice', 'running');
      await w.notify('alice', 'seen');
      await w.stream({ channels: ['jobs.J1', 'user.alice'], lastEventId: token({ 'jobs.J1': 1, 'user.alice': 1 }), budgetMs: 1000 });
      expect(w.sink.messages).toEqual([]);
    });

    it('replays more than one page of history', async () => {
      const w = setup({ historyPageSize: 10 });
      for (let i = 1; i <= 25; i++) await w.notify('alice', `n${i}`);
      await w.stream({ channels: ['user.alice'], lastEventId: token({ 'user.alice': 2 }), budgetMs: 500 });
      expect(w.sink.offsets('user.alice')).toEqual(Array.from({ length: 23 }, (_, i) => i + 3));
    });

    it('treats a channel missing from the token as new, and ignores channels the stream does not follow', async () => {
      const w = setup();
      await w.job('J1', 'alice', 'queued');
      await w.stream({ channels: ['jobs.J1'], lastEventId: token({ 'user.alice': 4 }), budgetMs: 500 });
      expect(w.sink.offsets('jobs.J1')).toEqual([1]);
      expect(positionsOf(w.sink.timeline.at(-1)?.id)).toEqual({ 'jobs.J1': 1 });
    });

    it('ignores a malformed token, with a warning, and starts afresh', async () => {
      const w = setup();
      await w.job('J1', 'alice', 'queued');
      await w.stream({ channels: ['jobs.J1'], lastEventId: 'not a token!', budgetMs: 500 });
      expect(w.sink.offsets('jobs.J1')).toEqual([1]);
      expect(w.logs).toContainEqual({ level: 'warn', message: 'ignoring a malformed Last-Event-ID', attributes: { reason: 'not base64url', length: 12 } });
    });

    it('waits for history that lags its head (the fan-out moves the head first) without calling it lost', async () => {
      // Prepare: the head moves at 300 ms, its history arrives at 900 ms (within the grace)
      const w = setup();
      let message: ChannelMessage | undefined;
      w.at(300, async () => (message = await w.notify('alice', 'slow', { history: false })));
      w.at(900, () => w.history.append('user.alice', message as ChannelMessage, w.clock.inSeconds(HOUR_SEC)));
      // Act
      await w.stream({ channels: ['user.alice'], budgetMs: 3000 });
      // Assess
      expect(w.sink.offsets('user.alice')).toEqual([1]);
      expect(w.sink.named('recovery')).toEqual([]);
    });
  });

  describe('recovery', () => {
    it('sends recovery and the current state of a job when history no longer covers the gap, then continues live', async () => {
      // Prepare: offsets 1 and 2 are gone from history, 3 and 4 are there
      const w = setup();
      await w.job('J1', 'alice', 'queued', { history: false });
      await w.job('J1', 'alice', 'running', { progress: 10, history: false });
      await w.job('J1', 'alice', 'running', { progress: 20 });
      await w.job('J1', 'alice', 'running', { progress: 30 });
      w.at(2500, () => w.job('J1', 'alice', 'completed'));
      // Act
      await w.stream({ channels: ['jobs.J1'], lastEventId: token({ 'jobs.J1': 0 }), budgetMs: 4000 });
      // Assess
      const events = w.sink.timeline.filter((e) => e.event !== 'subscribed');
      expect(events.map((e) => [e.event, e.data['offset'] ?? e.data])).toEqual([
        ['recovery', { event: 'recovery', channel: 'jobs.J1', recovered: false }],
        ['job:update', 4],
        ['job:update', 5],
      ]);
      expect(events[1]?.data).toMatchObject({ data: { status: 'running', progress: 30 } });
      // Declared lost only after the grace period
      expect((events[0]?.at ?? 0) - w.start).toBeGreaterThanOrEqual(1000);
      expectOrderedOnce(w.sink);
    });

    it('sends recovery for a notification channel whose history is gone and goes on live from its head', async () => {
      const w = setup();
      for (let i = 1; i <= 3; i++) await w.notify('alice', `lost ${i}`, { history: false });
      w.at(2500, () => w.notify('alice', 'fresh'));
      await w.stream({ channels: ['user.alice'], lastEventId: token({ 'user.alice': 1 }), budgetMs: 4000 });
      expect(w.sink.named('recovery')).toEqual([{ event: 'recovery', channel: 'user.alice', recovered: false }]);
      expect(w.sink.offsets('user.alice')).toEqual([4]);
      const recovery = w.sink.timeline.find((e) => e.event === 'recovery');
      expect(positionsOf(recovery?.id)).toEqual({ 'user.alice': 3 });
    });

    it('does not replay a client further behind than history keeps (as over WebSocket)', async () => {
      const w = setup({ historyMaxMessages: 5 });
      for (let i = 1; i <= 8; i++) await w.notify('alice', `n${i}`);
      await w.stream({ channels: ['user.alice'], lastEventId: token({ 'user.alice': 1 }), budgetMs: 1000 });
      expect(w.sink.named('recovery')).toHaveLength(1);
      expect(w.sink.messages).toEqual([]);
      // At once: nothing to wait for
      expect(w.sink.timeline.find((e) => e.event === 'recovery')?.at).toBe(w.start);
    });

    it('sends recovery when the token is ahead of the channel (it started over) and follows it from there', async () => {
      const w = setup();
      await w.notify('alice', 'one');
      await w.notify('alice', 'two');
      w.at(500, () => w.notify('alice', 'three'));
      await w.stream({ channels: ['user.alice'], lastEventId: token({ 'user.alice': 50 }), budgetMs: 2000 });
      expect(w.sink.named('recovery')).toHaveLength(1);
      expect(w.sink.offsets('user.alice')).toEqual([3]);
    });
  });

  describe('delivery-time authorization', () => {
    it("refuses a job that turns out to be another user's, stops following it, and keeps the other channels", async () => {
      // Prepare: alice follows J9 before its first event; it is bob's
      const w = setup();
      w.at(300, () => w.job('J9', 'bob', 'running'));
      w.at(700, () => w.notify('alice', 'still yours'));
      w.at(900, () => w.job('J9', 'bob', 'completed'));
      // Act
      const report = await w.stream({ channels: ['jobs.J9', 'user.alice'], budgetMs: 3000 });
      // Assess
      expect(w.sink.offsets('jobs.J9')).toEqual([]);
      const [error] = w.sink.timeline.filter((e) => e.event === 'error');
      expect(error?.data).toMatchObject({ event: 'error', code: 'PERMISSION_DENIED', channel: 'jobs.J9', message: 'Not the owner of this job' });
      expect(positionsOf(error?.id)).toEqual({ 'user.alice': 0 });
      expect(w.sink.offsets('user.alice')).toEqual([1]);
      expect(w.polls.at(-1)?.channels).toEqual(['user.alice']);
      expect(report.reason).toBe('budget');
    });

    it('ends the stream when nothing is left to follow', async () => {
      const w = setup();
      w.at(300, () => w.job('J9', 'bob', 'running'));
      const report = await w.stream({ channels: ['jobs.J9'], budgetMs: 5000 });
      expect(report.reason).toBe('no-channels');
      expect(w.sink.named('error')).toHaveLength(1);
    });

    it('stops delivering a document whose role was revoked', async () => {
      // Prepare
      const w = setup();
      await w.roles.setRole('D1', 'alice', 'viewer', w.clock.now());
      w.at(300, () => w.docEvent('D1', 'bob', { update: 'AAE=' }));
      w.at(1500, () => w.roles.setRole('D1', 'alice', null, w.clock.now()));
      w.at(1700, () => w.docEvent('D1', 'bob', { update: 'AAI=' }));
      // Act
      await w.stream({ channels: ['docs.D1', 'user.alice'], budgetMs: 3000 });
      // Assess
      expect(w.sink.offsets('docs.D1')).toEqual([1]);
      expect(w.sink.named('error')).toEqual([expect.objectContaining({ code: 'PERMISSION_DENIED', channel: 'docs.D1' })]);
    });
  });

  describe('heartbeat and end', () => {
    it('writes a heartbeat comment when nothing else was written for the heartbeat interval', async () => {
      const w = setup();
      w.at(20_000, () => w.notify('alice', 'between'));
      await w.stream({ channels: ['user.alice'], budgetMs: 50_000 });
      const heartbeats = w.sink.items.filter(({ item }) => item.kind === 'comment').map(({ at, item }) => [at - w.start, item]);
      // 15 s after the open, 15 s after the notification (delivered at 20.4 s), then 15 s later
      expect(heartbeats).toEqual([
        [15_000, { kind: 'comment', text: 'heartbeat' }],
        [35_400, { kind: 'comment', text: 'heartbeat' }],
      ]);
    });

    it('ends cleanly when its budget is spent, and counts what it did', async () => {
      const w = setup();
      w.at(400, () => w.notify('alice', 'x'));
      const report = await w.stream({ channels: ['user.alice'], budgetMs: 2000 });
      expect(report).toEqual({ reason: 'budget', eventsSent: 2, durationMs: 2000 });
      expect(Math.max(...w.sink.items.map((i) => i.at)) - w.start).toBeLessThanOrEqual(2000);
      expect(w.polls.at(-1)?.at).toBeLessThanOrEqual(2000);
      expect(w.metrics.total('SseStreamsOpened')).toBe(1);
      expect(w.metrics.total('SseStreamsClosed')).toBe(1);
      expect(w.metrics.total('SseEventsSent')).toBe(2);
    });

    it('stops when the client goes away, without another read or write', async () => {
      // Prepare: the client leaves as soon as the first notification arrives
      const w = setup();
      for (let i = 1; i <= 5; i++) await w.notify('alice', `n${i}`);
      w.sink.closeWhen = (sink) => sink.messages.length === 1;
      // Act
      const report = await w.stream({ channels: ['user.alice'], lastEventId: token({ 'user.alice': 0 }), budgetMs: 60_000 });
      // Assess
      expect(report.reason).toBe('closed');
      expect(w.sink.writesAfterClose).toBe(0);
      expect(w.polls).toHaveLength(1);
      expect(report.durationMs).toBe(0);
      expect(w.metrics.total('SseStreamsClosed')).toBe(1);
    });

    it('wakes from a wait at once when the client goes away (with the real sleep and clock)', async () => {
      // Prepare: long waits, and a client that leaves 20 ms in
      const sink = new TestSink(systemClock);
      const store = new MemoryChannelStore();
      const service = new SseService(
        { channels: store, history: new MemoryHistoryStore(), authorizer: new ChannelAuthorizer({ channels: store }), clock: systemClock, log: { debug() {}, info() {}, warn() {}, error() {} }, metrics: new RecordingMetrics() },
        { pollMinMs: 60_000, pollMaxMs: 60_000, heartbeatMs: 60_000 },
      );
      setTimeout(() => sink.close(), 20);
      const started = Date.now();
      // Act
      const report = await service.stream({ identity: { userId: 'alice' }, channels: [channel('user.alice')], budgetMs: 600_000, sink });
      // Assess
      expect(report.reason).toBe('closed');
      expect(Date.now() - started).toBeLessThan(1000);
    });
  });
});

describe('abortableSleep', () => {
  it('waits the time given', async () => {
    const started = Date.now();
    await abortableSleep(30, new AbortController().signal);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('returns early when the signal aborts, and at once when it already has', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 10);
    await abortableSleep(10_000, controller.signal);
    await abortableSleep(10_000, controller.signal);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
