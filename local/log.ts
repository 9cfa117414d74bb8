/**
 * The local runtime's own log: one readable line per event,
 * `12:00:00.123 DEBUG [gateway] connected connectionId=L0SM9cOFvHcCIhw= userId=u1`.
 * Quiet by default (warnings and errors only); `log: 'debug'` shows everything it does.
 */
import type { Log, LogAttributes } from '../functions/domain/ports.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface RuntimeLog extends Log {
  child(component: string): RuntimeLog;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && value in RANK;
}

/** A log from a level (written to stderr) or from a `Log` the caller provides (tests capture with one). */
export function createLog(option: LogLevel | Log | undefined): RuntimeLog {
  if (option !== undefined && typeof option === 'object') return wrap(option, undefined);
  const envLevel = process.env['LOCAL_LOG_LEVEL'];
  const level: LogLevel = option ?? (isLogLevel(envLevel) ? envLevel : 'warn');
  return wrap(consoleLog(level), undefined);
}

function wrap(target: Log, component: string | undefined): RuntimeLog {
  const withComponent = (attributes?: LogAttributes): LogAttributes | undefined =>
    component === undefined ? attributes : { component, ...attributes };
  return {
    debug: (message, attributes) => target.debug(message, withComponent(attributes)),
    info: (message, attributes) => target.info(message, withComponent(attributes)),
    warn: (message, attributes) => target.warn(message, withComponent(attributes)),
    error: (message, attributes) => target.error(message, withComponent(attributes)),
    child: (name) => wrap(target, component === undefined ? name : `${component}.${name}`),
  };
}

function consoleLog(level: LogLevel): Log {
  const min = RANK[level];
  const write = (lvl: Exclude<LogLevel, 'silent'>, message: string, attributes?: LogAttributes): void => {
    if (RANK[lvl] < min) return;
    const time = new Date().toISOString().slice(11, 23);
    const { component, ...rest } = attributes ?? {};
    const where = typeof component === 'string' ? ` [${component}]` : '';
    const fields = Object.entries(rest)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${formatValue(v)}`)
      .join(' ');
    process.stderr.write(`${time} ${lvl.toUpperCase().padEnd(5)}${where} ${message}${fields ? ` ${fields}` : ''}\n`);
  };
  return {
    debug: (m, a) => write('debug', m, a),
    info: (m, a) => write('info', m, a),
    warn: (m, a) => write('warn', m, a),
    error: (m, a) => write('error', m, a),
  };
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.stack ?? value.message);
  if (typeof value === 'string') return /^[\w.:/@#$=+-]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
