/** Tokens: a string, or a (possibly async) function called for every connection attempt. */
export type TokenSource = string | (() => string | Promise<string>);

export async function resolveToken(source: TokenSource): Promise<string> {
  return typeof source === 'function' ? await source() : source;
}

/**
 * The `sub` of a JWT, read without verifying it (the server verifies; the SDK only wants to
 * know which member of a document is "me"). Undefined when the token is not a readable JWT.
 */
export function tokenSubject(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    const claims = JSON.parse(json) as { sub?: unknown; userId?: unknown };
    const sub = claims.sub ?? claims.userId;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

/** `url` with `name=value` added to its query string. */
export function withQuery(url: string, params: Record<string, string | undefined>): string {
  const query = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  if (!query) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}
