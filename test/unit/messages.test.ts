import { describe, expect, it } from 'vitest';
import {
  ClientMessage,
  EventBridgeEvent,
  JobUpdateDetail,
  LIMITS,
  NotificationDetail,
  ServerMessageSchema,
  describeIssues,
} from '../../functions/domain/messages.ts';

const validJob = {
  jobId: 'J1',
  userId: 'alice',
  status: 'running',
  progress: 40,
  message: 'Rendering slide 4',
  timestamp: '2030-01-01T00:00:00.000Z',
};

/** The description of a failed parse (fails the test when the parse succeeds). */
function issuesOf(result: { success: boolean; error?: { issues: Parameters<typeof describeIssues>[0] } }): string {
  expect(result.success).toBe(false);
  return describeIssues(result.error?.issues ?? []);
}

describe('messages', () => {
  describe('ClientMessage', () => {
    it.each([
      { action: 'subscribe', channel: 'jobs.J1', requestId: 'r1' },
      { action: 'unsubscribe', channel: 'jobs.J1' },
      { action: 'ping', requestId: 'r3' },
      { action: 'ping' },
    ])('accepts %j', (message) => {
      expect(ClientMessage.safeParse(message)).toStrictEqual({ success: true, data: message });
    });

    it('ignores unknown fields, a userId included', () => {
      const parsed = ClientMessage.safeParse({ action: 'subscribe', channel: 'user.bob', userId: 'bob', extra: { a: 1 } });
      expect(parsed.data).toStrictEqual({ action: 'subscribe', channel: 'user.bob' });
    });

    it('accepts a requestId of 1 and of 128 characters', () => {
      expect(ClientMessage.safeParse({ action: 'ping', requestId: 'r' }).success).toBe(true);
      expect(ClientMessage.safeParse({ action: 'ping', requestId: 'r'.repeat(LIMITS.maxRequestIdLength) }).success).toBe(true);
    });

    it('accepts a channel of 256 characters (its name is checked later)', () => {
      expect(ClientMessage.safeParse({ action: 'subscribe', channel: 'c'.repeat(LIMITS.maxChannelLength) }).success).toBe(true);
    });

    it.each([
      ['an unknown action', { action: 'teleport', channel: 'jobs.J1' }, 'unknown action'],
      ['no action', { channel: 'jobs.J1' }, 'unknown action'],
      ['a missing channel', { action: 'subscribe' }, 'channel must be string'],
      ['a channel that is not a string', { action: 'unsubscribe', channel: 42 }, 'channel must be string'],
      ['an empty channel', { action: 'subscribe', channel: '' }, 'channel is too short or too small (min 1)'],
      ['a channel of 257 characters', { action: 'subscribe', channel: 'c'.repeat(257) }, 'channel is too long or too large (max 256)'],
      ['an empty requestId', { action: 'ping', requestId: '' }, 'requestId is too short or too small (min 1)'],
      ['a requestId of 129 characters', { action: 'ping', requestId: 'r'.repeat(129) }, 'requestId is too long or too large (max 128)'],
      ['a requestId that is not a string', { action: 'ping', requestId: 7 }, 'requestId must be string'],
    ])('refuses %s, naming the field', (_label, message, description) => {
      expect(issuesOf(ClientMessage.safeParse(message))).toBe(description);
    });
  });

  describe('JobUpdateDetail', () => {
    it('accepts a full update', () => {
      const full = { ...validJob, status: 'failed', error: { code: 'OOM', message: 'Out of memory' }, sequence: 3 };
      expect(JobUpdateDetail.safeParse(full)).toStrictEqual({ success: true, data: full });
    });

    it('accepts the minimal update', () => {
      expect(JobUpdateDetail.safeParse({ jobId: 'J1', userId: 'alice', status: 'queued', timestamp: '2030-01-01T00:00:00Z' }).success).toBe(
        true,
      );
    });

    it.each(['queued', 'running', 'completed', 'failed', 'cancelled'])('accepts the status %s', (status) => {
      expect(JobUpdateDetail.safeParse({ ...validJob, status }).success).toBe(true);
    });

    it.each([0, 0.5, 100])('accepts a progress of %d', (progress) => {
      expect(JobUpdateDetail.safeParse({ ...validJob, progress }).success).toBe(true);
    });

    it.each(['2030-01-01T00:00:00Z', '2030-01-01T00:00:00.123456Z', '2030-01-01T02:00:00+02:00'])(
      'accepts the ISO 8601 timestamp %s',
      (timestamp) => {
        expect(JobUpdateDetail.safeParse({ ...validJob, timestamp }).success).toBe(true);
      },
    );

    it('ignores unknown fields', () => {
      expect(JobUpdateDetail.safeParse({ ...validJob, secret: 'x' }).data).toStrictEqual(validJob);
    });

    it.each([
      ['a progress of 101', { progress: 101 }, 'progress'],
      ['a negative progress', { progress: -1 }, 'progress'],
      ['a progress that is not a number', { progress: '50' }, 'progress'],
      ['an unknown status', { status: 'done' }, 'status'],
      ['a jobId with a dot', { jobId: 'J.1' }, 'jobId'],
      ['a jobId of 129 characters', { jobId: 'j'.repeat(129) }, 'jobId'],
      ['an empty userId', { userId: '' }, 'userId'],
      ['a missing userId', { userId: undefined }, 'userId'],
      ['a timestamp without a time', { timestamp: '2030-01-01' }, 'timestamp'],
      ['a timestamp without an offset', { timestamp: '2030-01-01T00:00:00' }, 'timestamp'],
      ['a timestamp in another format', { timestamp: 'Tue, 01 Jan 2030 00:00:00 GMT' }, 'timestamp'],
      ['a message of 1001 characters', { message: 'm'.repeat(LIMITS.maxJobMessageLength + 1) }, 'message'],
      ['an error without a code', { error: { code: '', message: 'x' } }, 'error.code'],
      ['an error message of 1001 characters', { error: { code: 'E', message: 'm'.repeat(1001) } }, 'error.message'],
      ['a fractional sequence', { sequence: 1.5 }, 'sequence'],
      ['a negative sequence', { sequence: -1 }, 'sequence'],
    ])('refuses %s', (_label, overrides, field) => {
      expect(issuesOf(JobUpdateDetail.safeParse({ ...validJob, ...overrides }))).toMatch(new RegExp(`^${field} `));
    });
  });

  describe('NotificationDetail', () => {
    it('passes the product\'s own fields through', () => {
      const detail = { userId: 'alice', type: 'comment.mention', title: 'Bob mentioned you', link: { docId: 'D1' } };
      expect(NotificationDetail.safeParse(detail)).toStrictEqual({ success: true, data: detail });
    });

    it('needs nothing but a valid userId', () => {
      expect(NotificationDetail.safeParse({ userId: 'alice' }).success).toBe(true);
    });

    it.each([
      ['a missing userId', { type: 'x' }, 'userId'],
      ['a userId with a slash', { userId: 'a/b' }, 'userId'],
      ['a type of 129 characters', { userId: 'alice', type: 't'.repeat(129) }, 'type'],
      ['a timestamp that is not ISO 8601', { userId: 'alice', timestamp: 'yesterday' }, 'timestamp'],
    ])('refuses %s', (_label, detail, field) => {
      expect(issuesOf(NotificationDetail.safeParse(detail))).toMatch(new RegExp(`^${field} `));
    });
  });

  describe('EventBridgeEvent', () => {
    it('accepts the envelope a rule delivers to SQS', () => {
      const event = { id: 'e1', 'detail-type': 'job.update', source: 'realtime.workers', time: '2030-01-01T00:00:00Z', detail: validJob };
      expect(EventBridgeEvent.safeParse(event).success).toBe(true);
    });

    it('refuses an envelope without an id', () => {
      expect(EventBridgeEvent.safeParse({ 'detail-type': 'job.update', source: 'realtime.workers', detail: {} }).success).toBe(false);
    });
  });

  describe('describeIssues', () => {
    const SECRET = 'S3CRET';

    it.each([
      ['ClientMessage', ClientMessage, { action: `${SECRET}`, channel: `${SECRET}`, requestId: `${SECRET}` }],
      ['ClientMessage', ClientMessage, { action: 'subscribe', channel: `${SECRET}${'x'.repeat(300)}`, requestId: `${SECRET}${'x'.repeat(200)}` }],
      ['ClientMessage', ClientMessage, { action: 'ping', requestId: { [SECRET]: SECRET } }],
      [
        'JobUpdateDetail',
        JobUpdateDetail,
        { jobId: `${SECRET}.x`, userId: `${SECRET} `, status: SECRET, progress: 1e9, message: SECRET.repeat(300), timestamp: SECRET },
      ],
      ['JobUpdateDetail', JobUpdateDetail, { ...validJob, error: { code: SECRET.repeat(30), message: 7 }, sequence: SECRET }],
      ['NotificationDetail', NotificationDetail, { userId: `${SECRET}!`, type: SECRET.repeat(30), timestamp: SECRET }],
    ] as const)('never echoes input values (%s)', (_name, schema, input) => {
      // Act
      const result = schema.safeParse(input);
      // Assess
      expect(result.success).toBe(false);
      const description = describeIssues(result.error?.issues ?? []);
      expect(description).not.toBe('');
      expect(description).not.toContain(SECRET);
    });

    it('describes at most three issues', () => {
      const result = JobUpdateDetail.safeParse({ jobId: 1, userId: 2, status: 3, progress: 'a', message: 5, timestamp: 6 });
      expect(describeIssues(result.error?.issues ?? []).split('; ')).toHaveLength(3);
    });

    it('names a problem with the whole message as "message"', () => {
      expect(issuesOf(ClientMessage.safeParse('ping'))).toMatch(/^message /);
    });
  });

  describe('ServerMessageSchema', () => {
    it('accepts the examples of the protocol', () => {
      const examples = [
        { event: 'subscribed', channel: 'jobs.J1', requestId: 'r1' },
        { event: 'pong', requestId: 'r3', timestamp: '2026-11-26T10:00:00.000Z' },
        {
          event: 'job:update',
          channel: 'jobs.J1',
          offset: 7,
          data: { type: 'job.update', jobId: 'J1', status: 'running', progress: 40, message: 'x', timestamp: '2026-11-26T10:00:00.000Z' },
        },
        { event: 'notification', channel: 'user.alice', offset: 3, data: { userId: 'alice', title: 'Hi' } },
        { event: 'error', code: 'PERMISSION_DENIED', message: 'no', channel: 'jobs.J1', timestamp: '2026-11-26T10:00:00.000Z' },
      ];
      for (const example of examples) expect(ServerMessageSchema.safeParse(example).success).toBe(true);
    });
  });
});
