import { describe, expect, it } from 'vitest';
import { SseFieldError } from '../../functions/domain/errors.ts';
import { formatComment, formatEvent, formatRetry } from '../../functions/domain/sse-format.ts';
import { parseSse } from '../support/sse.ts';

describe('SSE format', () => {
  describe('formatEvent', () => {
    it('writes event, id and data fields and ends with a blank line', () => {
      expect(formatEvent({ event: 'job:update', id: 'abc', data: '{"a":1}' })).toBe('event: job:update\nid: abc\ndata: {"a":1}\n\n');
    });

    it('writes only the fields it is given', () => {
      expect(formatEvent({ data: 'x' })).toBe('data: x\n\n');
      expect(formatEvent({ id: 'only-id' })).toBe('id: only-id\n\n');
    });

    it('splits multi-line data into one data line per line, whatever the line break', () => {
      // Prepare
      const data = 'one\ntwo\r\nthree\rfour';
      // Act
      const text = formatEvent({ event: 'note', data });
      // Assess
      expect(text).toBe('event: note\ndata: one\ndata: two\ndata: three\ndata: four\n\n');
      expect(parseSse(text)).toEqual([{ kind: 'event', message: { event: 'note', data: 'one\ntwo\nthree\nfour' } }]);
    });

    it('keeps empty lines of data', () => {
      expect(formatEvent({ data: 'a\n\nb' })).toBe('data: a\ndata: \ndata: b\n\n');
      expect(parseSse(formatEvent({ data: 'a\n\nb' }))).toEqual([{ kind: 'event', message: { event: 'message', data: 'a\n\nb' } }]);
    });

    it.each(['job\nupdate', 'job\rupdate', 'job\r\nupdate'])('refuses a line break in the event name (%j)', (event) => {
      expect(() => formatEvent({ event, data: 'x' })).toThrow(SseFieldError);
    });

    it.each(['a\nb', 'a\rb', 'a\0b'])('refuses a line break or NUL in the id (%j)', (id) => {
      expect(() => formatEvent({ id, data: 'x' })).toThrow(SseFieldError);
    });

    it('cannot be used to forge another event through the id', () => {
      expect(() => formatEvent({ id: '1\n\nevent: notification\ndata: {}', data: 'x' })).toThrow(/line break/);
    });

    it('adds a retry field', () => {
      expect(formatEvent({ retry: 2000, data: 'x' })).toBe('retry: 2000\ndata: x\n\n');
    });
  });

  describe('formatComment', () => {
    it('writes a comment line that clients ignore', () => {
      expect(formatComment('heartbeat')).toBe(': heartbeat\n\n');
      expect(parseSse(formatComment('heartbeat'))).toEqual([{ kind: 'comment', text: 'heartbeat' }]);
    });

    it('keeps every line of a multi-line comment a comment', () => {
      expect(formatComment('a\ndata: forged')).toBe(': a\n: data: forged\n\n');
      expect(parseSse(formatComment('a\ndata: forged')).filter((i) => i.kind === 'event')).toEqual([]);
    });
  });

  describe('formatRetry', () => {
    it('writes the reconnection hint on its own', () => {
      expect(formatRetry(2000)).toBe('retry: 2000\n\n');
      expect(parseSse(formatRetry(2000))).toEqual([{ kind: 'retry', ms: 2000 }]);
    });

    it.each([-1, 1.5, Number.NaN])('refuses %s', (ms) => {
      expect(() => formatRetry(ms)).toThrow(RangeError);
    });
  });
});
