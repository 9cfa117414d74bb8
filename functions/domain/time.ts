/** Lifetimes, in seconds, of what the service stores. */
export const TTL = {
  /** API Gateway closes a WebSocket after 2 hours; keep records a little longer. */
  connectionSec: 2 * 60 * 60 + 15 * 60,
  /** Job state outlives the job's last update by a week (clients may reload late). */
  jobStateSec: 7 * 24 * 60 * 60,
  /** Offset counters of stateless channels (user.*) live long, so offsets never restart early. */
  channelHeadSec: 30 * 24 * 60 * 60,
  historySec: 24 * 60 * 60,
  /** Longer than EventBridge's 24 h retry window and SQS redelivery. */
  ledgerSec: 2 * 24 * 60 * 60,
} as const;

export const epochSeconds = (ms: number): number => Math.floor(ms / 1000);
export const isoNow = (ms: number): string => new Date(ms).toISOString();
