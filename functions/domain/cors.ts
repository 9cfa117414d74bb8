/**
 * CORS for the SSE function URL, from an allow-list of origins (`CORS_ORIGINS`).
 *
 * Listed origins are echoed back with `Access-Control-Allow-Credentials: true` and
 * `Vary: Origin`. `*` in the list allows every origin but is answered as `*` without
 * credentials, as browsers require. An origin that is not allowed gets no CORS headers.
 */
export interface CorsPolicyOptions {
  /** @default ['GET', 'OPTIONS'] */
  methods?: readonly string[];
  /** Request headers a browser may send. @default Authorization, Last-Event-ID, Cache-Control, Content-Type */
  allowHeaders?: readonly string[];
  /** How long a browser may cache a preflight answer. @default 600 */
  maxAgeSec?: number;
}

export class CorsPolicy {
  readonly #origins: ReadonlySet<string>;
  readonly #any: boolean;
  readonly #methods: string;
  readonly #allowHeaders: string;
  readonly #maxAgeSec: number;

  constructor(origins: readonly string[], options: CorsPolicyOptions = {}) {
    this.#any = origins.includes('*');
    this.#origins = new Set(origins.filter((o) => o !== '*').map(normalizeOrigin));
    this.#methods = (options.methods ?? ['GET', 'OPTIONS']).join(', ');
    this.#allowHeaders = (options.allowHeaders ?? ['Authorization', 'Last-Event-ID', 'Cache-Control', 'Content-Type']).join(', ');
    this.#maxAgeSec = options.maxAgeSec ?? 600;
  }

  allows(origin: string): boolean {
    return this.#any || this.#origins.has(normalizeOrigin(origin));
  }

  /** Headers for an answer to `origin` (none without an Origin header or when it is not allowed). */
  headersFor(origin: string | undefined): Record<string, string> {
    if (origin === undefined) return this.#any ? {} : { vary: 'Origin' };
    if (!this.allows(origin)) return { vary: 'Origin' };
    if (this.#any && !this.#origins.has(normalizeOrigin(origin))) return { 'access-control-allow-origin': '*' };
    return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
  }

  /** Headers of a preflight (OPTIONS) answer to an allowed origin. */
  preflightHeaders(origin: string): Record<string, string> {
    return {
      ...this.headersFor(origin),
      'access-control-allow-methods': this.#methods,
      'access-control-allow-headers': this.#allowHeaders,
      'access-control-max-age': String(this.#maxAgeSec),
    };
  }
}

/** Origins compare as scheme://host[:port], case-insensitively, without a trailing slash. */
function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}
