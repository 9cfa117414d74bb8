/** Channel names: `{kind}.{id}` with an id of 1..128 characters from [A-Za-z0-9_-]. */
export const CHANNEL_KINDS = ['jobs', 'docs', 'presence', 'user'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

export interface Channel {
  readonly name: string;
  readonly kind: ChannelKind;
  readonly id: string;
}

const CHANNEL_RE = /^(jobs|docs|presence|user)\.([A-Za-z0-9_-]{1,128})$/;
export const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

/** Returns the parsed channel, or undefined when the name is not one we serve. */
export function parseChannel(name: string): Channel | undefined {
  const m = CHANNEL_RE.exec(name);
  if (!m) return undefined;
  return { name, kind: m[1] as ChannelKind, id: m[2] as string };
}

export const isValidId = (id: string): boolean => ID_RE.test(id);
export const jobChannel = (jobId: string): string => `jobs.${jobId}`;
export const userChannel = (userId: string): string => `user.${userId}`;
