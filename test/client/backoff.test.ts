import { describe, expect, it } from 'vitest';
import { Backoff } from '../../client/backoff.ts';
import { ChannelState } from '../../client/channel-state.ts';
import type { ChannelMessage } from '../../functions/domain/messages.ts';
import { FakeTimers, jobUpdate } from './fakes.ts';

describe('Backoff', () => {
  it('waits a random time between 0 and a ceiling that doubles from the base (full jitter)', () => {
    const backoff = new Backoff({ baseMs: 500, maxMs: 30_000, random: () => 0.999 });
    expect([1, 2, 3, 4, 5].map(() => backoff.next())).toEqual([499, 999, 1998, 3996, 7992]);
    const low = new Backoff({ baseMs: 500, random: () => 0 });
    expect([low.next(), low.next()]).toEqual([0, 0]);
  });

  it('never lets the ceiling pass the cap', () => {
    const backoff = new Backoff({ baseMs: 500, maxMs: 4000, random: () => 0.5 });
    const waits = Array.from({ length: 40 }, () => backoff.next());
    expect(Math.max(...waits)).toBe(2000);
    expect(backoff.ceiling()).toBe(4000);
  });

  it('starts over from the base after a reset', () => {
    const backoff = new Backoff({ baseMs: 100, random: () => 0.5 });
    backoff.next();
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(50);
  });
});

describe('ChannelState', () => {
  const msg = (offset: number): ChannelMessage => jobUpdate('J1', offset, offset) as unknown as ChannelMessage;
  const offsets = (messages: ChannelMessage[]): number[] => messages.map((m) => m.offset);

  it('takes the first message as the start, then drops anything at or below the last offset', () => {
    const state = new ChannelState('jobs.J1', new FakeTimers(), 1000, () => {});
    expect(offsets(state.accept(msg(7)))).toEqual([7]);
    expect(offsets(state.accept(msg(7)))).toEqual([]);
    expect(offsets(state.accept(msg(5)))).toEqual([]);
    expect(offsets(state.accept(msg(8)))).toEqual([8]);
    expect(state.last).toBe(8);
  });

  it('holds a message whose predecessor is missing and releases both in order', () => {
    const state = new ChannelState('jobs.J1', new FakeTimers(), 1000, () => {}, 3);
    expect(offsets(state.accept(msg(5)))).toEqual([]);
    expect(offsets(state.accept(msg(6)))).toEqual([]);
    expect(offsets(state.accept(msg(4)))).toEqual([4, 5, 6]);
  });

  it('asks for a resync when a gap does not fill within the hold time', async () => {
    const timers = new FakeTimers();
    let gaps = 0;
    const state = new ChannelState('jobs.J1', timers, 1000, () => gaps++, 3);
    state.accept(msg(5));
    await timers.advance(999);
    expect(gaps).toBe(0);
    await timers.advance(1);
    expect(gaps).toBe(1);
  });

  it('after a failed recovery continues from what it holds, or from the next message', () => {
    const state = new ChannelState('jobs.J1', new FakeTimers(), 1000, () => {}, 3);
    state.accept(msg(9));
    state.accept(msg(10));
    expect(offsets(state.restart())).toEqual([9, 10]);
    const empty = new ChannelState('jobs.J1', new FakeTimers(), 1000, () => {}, 3);
    expect(empty.restart()).toEqual([]);
    expect(offsets(empty.accept(msg(40)))).toEqual([40]);
  });

  it('counts an own publish as seen, so the next message is not a gap', () => {
    const state = new ChannelState('docs.D1', new FakeTimers(), 1000, () => {}, 3);
    expect(state.markSeen(4)).toEqual([]);
    expect(offsets(state.accept(msg(5)))).toEqual([5]);
  });
});
