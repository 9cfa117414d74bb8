import { describe, expect, it } from 'vitest';
import { CHANNEL_KINDS, isValidId, jobChannel, parseChannel, userChannel } from '../../functions/domain/channels.ts';

describe('channels', () => {
  describe('parseChannel', () => {
    it.each(CHANNEL_KINDS)('accepts a %s channel and splits it into kind and id', (kind) => {
      expect(parseChannel(`${kind}.abc-DEF_123`)).toStrictEqual({ name: `${kind}.abc-DEF_123`, kind, id: 'abc-DEF_123' });
    });

    it('accepts an id of one character', () => {
      expect(parseChannel('jobs.a')).toMatchObject({ kind: 'jobs', id: 'a' });
    });

    it('accepts an id of 128 characters', () => {
      const id = 'a'.repeat(128);
      expect(parseChannel(`user.${id}`)).toStrictEqual({ name: `user.${id}`, kind: 'user', id });
    });

    it.each([
      ['an id of 129 characters', `jobs.${'a'.repeat(129)}`],
      ['an empty id', 'jobs.'],
      ['a kind without a dot', 'jobs'],
      ['an id with a dot', 'jobs.a.b'],
      ['an unknown kind', 'foo.x'],
      ['a kind in another case', 'JOBS.x'],
      ['a unicode id', 'jobs.caf\u00e9'],
      ['a look-alike unicode letter', 'jobs.\u0430bc'],
      ['a space in the id', 'jobs.a b'],
      ['a slash in the id', 'user.a/b'],
      ['a leading space', ' jobs.x'],
      ['a trailing newline', 'jobs.x\n'],
      ['an empty string', ''],
      ['a name with only a dot', '.x'],
    ])('refuses %s', (_label, name) => {
      expect(parseChannel(name)).toBeUndefined();
    });
  });

  describe('isValidId', () => {
    it('accepts 1..128 characters from [A-Za-z0-9_-]', () => {
      expect(isValidId('a')).toBe(true);
      expect(isValidId('A-z_09')).toBe(true);
      expect(isValidId('x'.repeat(128))).toBe(true);
    });

    it('refuses empty, too long and other characters', () => {
      expect(isValidId('')).toBe(false);
      expect(isValidId('x'.repeat(129))).toBe(false);
      expect(isValidId('a.b')).toBe(false);
      expect(isValidId('\u00e9')).toBe(false);
    });
  });

  describe('jobChannel and userChannel', () => {
    it('build names that parse back to the same kind and id', () => {
      expect(jobChannel('J1')).toBe('jobs.J1');
      expect(userChannel('alice')).toBe('user.alice');
      expect(parseChannel(jobChannel('J1'))).toMatchObject({ kind: 'jobs', id: 'J1' });
      expect(parseChannel(userChannel('alice'))).toMatchObject({ kind: 'user', id: 'alice' });
    });
  });
});
