/**
 * EventBridge PutEvents for the local runtime (AWS JSON 1.1, `x-amz-target: AWSEvents.PutEvents`),
 * validated like the service, and rules that deliver matching events to SQS queues with the
 * event envelope as the message body, as an SQS rule target does.
 */
import type { LocalQueue } from './sqs.ts';
import type { RuntimeLog } from './log.ts';
import { HttpError, readJson, sendJson, type Route, type RouteRequest } from './http-router.ts';
import { ACCOUNT_ID, errorMessageOf, isoSeconds, uuid } from './util.ts';

export const MAX_PUT_EVENTS_ENTRIES = 10;
export const MAX_PUT_EVENTS_BYTES = 256 * 1024;

export interface EventRule {
  name: string;
  /** The bus the rule is on (name or ARN); undefined matches any bus (the local default rules). */
  eventBusName?: string;
  /** Event pattern parts; an absent one matches everything. */
  source?: readonly string[];
  detailType?: readonly string[];
  /** Name of the target queue. */
  queue: string;
}

export interface EventBridgeEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

interface PutEventsEntry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  EventBusName?: unknown;
  Time?: unknown;
  Resources?: unknown;
  TraceHeader?: unknown;
}

type ResultEntry = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

export interface EventBusOptions {
  region: string;
  defaultBusName: string;
  rules: readonly EventRule[];
  queue(name: string): LocalQueue | undefined;
  log: RuntimeLog;
}

export class LocalEventBridge {
  readonly stats = { putEventsCalls: 0, accepted: 0, failed: 0, delivered: 0, unmatched: 0 };
  readonly #o: EventBusOptions;
  readonly #log: RuntimeLog;
  readonly #warnedBuses = new Set<string>();

  constructor(options: EventBusOptions) {
    this.#o = options;
    this.#log = options.log;
  }

  get rules(): readonly EventRule[] {
    return this.#o.rules;
  }

  /** PutEvents. Throws HttpError 400 ValidationException for request-level errors. */
  putEvents(input: Record<string, unknown>): { FailedEntryCount: number; Entries: ResultEntry[] } {
    this.stats.putEventsCalls++;
    const entries = input['Entries'];
    if (!Array.isArray(entries)) {
      throw new HttpError(400, "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null", 'ValidationException');
    }
    if (entries.length < 1 || entries.length > MAX_PUT_EVENTS_ENTRIES) {
      throw new HttpError(
        400,
        `1 validation error detected: Value '[...]' at 'entries' failed to satisfy constraint: Member must have length ${
          entries.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${String(MAX_PUT_EVENTS_ENTRIES)}`
        }`,
        'ValidationException',
      );
    }
    const total = (entries as PutEventsEntry[]).reduce((sum, e) => sum + entrySize(e), 0);
    if (total > MAX_PUT_EVENTS_BYTES) {
      throw new HttpError(400, 'Total size of the entries in the request is over the limit.', 'ValidationException');
    }
    const results: ResultEntry[] = [];
    let failed = 0;
    for (const raw of entries as unknown[]) {
      const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as PutEventsEntry;
      const result = this.#accept(entry);
      if ('ErrorCode' in result) failed++;
      results.push(result);
    }
    this.stats.accepted += entries.length - failed;
    this.stats.failed += failed;
    return { FailedEntryCount: failed, Entries: results };
  }

  #accept(entry: PutEventsEntry): ResultEntry {
    if (typeof entry.Source !== 'string' || entry.Source === '') {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.' };
    }
    if (typeof entry.DetailType !== 'string' || entry.DetailType === '') {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.' };
    }
    if (typeof entry.Detail !== 'string' || entry.Detail === '') {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Detail is not valid. Reason: Detail is a required argument.' };
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail);
    } catch {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    const time = eventTime(entry.Time);
    if (time === undefined) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Time is not valid.' };
    const resources = Array.isArray(entry.Resources) ? entry.Resources.filter((r): r is string => typeof r === 'string') : [];
    const bus = typeof entry.EventBusName === 'string' && entry.EventBusName !== '' ? entry.EventBusName : 'default';
    const event: EventBridgeEvent = {
      version: '0',
      id: uuid(),
      'detail-type': entry.DetailType,
      source: entry.Source,
      account: ACCOUNT_ID,
      time,
      region: this.#o.region,
      resources,
      detail,
    };
    this.#route(busName(bus), event);
    return { EventId: event.id };
  }

  #route(bus: string, event: EventBridgeEvent): void {
    const matched = this.#o.rules.filter((rule) => matches(rule, bus, event));
    if (matched.length === 0) {
      this.stats.unmatched++;
      this.#log.debug('event matched no rule', { bus, source: event.source, detailType: event['detail-type'], id: event.id });
      return;
    }
    if (bus !== busName(this.#o.defaultBusName) && !this.#warnedBuses.has(bus)) {
      // Rules without a bus (the default ones) take events from any bus locally; on AWS the rule
      // lives on one bus and events put on another never reach it.
      this.#warnedBuses.add(bus);
      this.#log.warn(`events put on bus '${bus}' are routed locally, but on AWS the rules are on bus '${this.#o.defaultBusName}'`, {
        detailType: event['detail-type'],
      });
    }
    const body = JSON.stringify(event);
    for (const rule of matched) {
      const queue = this.#o.queue(rule.queue);
      if (!queue) {
        this.#log.warn('rule target queue does not exist', { rule: rule.name, queue: rule.queue });
        continue;
      }
      try {
        queue.send(body);
        this.stats.delivered++;
        this.#log.debug('event delivered', { rule: rule.name, queue: queue.name, detailType: event['detail-type'], id: event.id });
      } catch (error) {
        // EventBridge retries failed target deliveries for up to 24 h, then drops them (no DLQ configured).
        this.#log.warn('event delivery to the queue failed', { rule: rule.name, queue: rule.queue, error: errorMessageOf(error) });
      }
    }
  }
}

/** `arn:aws:events:us-east-1:000000000000:event-bus/realtime` and `realtime` name the same bus. */
function busName(nameOrArn: string): string {
  const m = /^arn:aws[\w-]*:events:[^:]*:[^:]*:event-bus\/(.+)$/.exec(nameOrArn);
  return m?.[1] ?? nameOrArn;
}

function matches(rule: EventRule, bus: string, event: EventBridgeEvent): boolean {
  if (rule.eventBusName !== undefined && busName(rule.eventBusName) !== bus) return false;
  if (rule.source && !rule.source.includes(event.source)) return false;
  if (rule.detailType && !rule.detailType.includes(event['detail-type'])) return false;
  return true;
}

/** The SDK sends Time as epoch seconds; a string is accepted too. Undefined when invalid. */
function eventTime(time: unknown): string | undefined {
  if (time === undefined || time === null) return isoSeconds(Date.now());
  const ms = typeof time === 'number' ? time * 1000 : typeof time === 'string' ? Date.parse(time) : Number.NaN;
  return Number.isFinite(ms) ? isoSeconds(ms) : undefined;
}

/** The entry size as EventBridge counts it (Time 14 bytes, Source, DetailType, Detail, Resources). */
function entrySize(entry: PutEventsEntry): number {
  let size = entry.Time !== undefined && entry.Time !== null ? 14 : 0;
  for (const v of [entry.Source, entry.DetailType, entry.Detail]) if (typeof v === 'string') size += Buffer.byteLength(v, 'utf8');
  if (Array.isArray(entry.Resources)) for (const r of entry.Resources) if (typeof r === 'string') size += Buffer.byteLength(r, 'utf8');
  return size;
}

export function eventBridgeRoute(bus: LocalEventBridge, log: RuntimeLog): Route {
  return {
    name: 'eventbridge',
    methods: ['POST'],
    path: '/',
    target: 'AWSEvents.PutEvents',
    handle: async ({ req, res }: RouteRequest) => {
      const contentType = 'application/x-amz-json-1.1';
      try {
        const input = await readJson(req);
        const out = bus.putEvents(input);
        log.debug('PutEvents', { entries: out.Entries.length, failed: out.FailedEntryCount });
        sendJson(res, 200, out, {}, contentType);
      } catch (error) {
        if (error instanceof HttpError) {
          const type = error.errorType ?? 'ValidationException';
          log.debug('PutEvents rejected', { type, message: error.message });
          sendJson(res, error.status, { __type: type, message: error.message }, { 'x-amzn-errortype': type }, contentType);
          return;
        }
        throw error;
      }
    },
  };
}
