/**
 * The on-call view: one CloudWatch dashboard and the alarms that page.
 *
 * Where a metric comes from:
 *   - the handlers' own counts (Powertools EMF: namespace POWERTOOLS_METRICS_NAMESPACE, one
 *     dimension `service` = POWERTOOLS_SERVICE_NAME; the names are MetricName in
 *     functions/domain/ports.ts, plus the DeliveryLatency timing);
 *   - AWS/ApiGateway, AWS/Lambda, AWS/SQS and AWS/ElastiCache where the service itself is the truth
 *     (errors, throttles, durations, queue age, cache health).
 *
 * "Open connections" has no AWS metric. It is derived as the running sum of
 * ConnectionsOpened - ConnectionsClosed over the range shown, so it counts from zero at the
 * left edge (widen the range to a day or more for a truer level), and it drifts upward by the
 * connections whose `$disconnect` AWS never delivered (best effort); those are pruned later as
 * stale (see StaleConnectionsPruned).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { MetricName } from '../../functions/domain/ports.ts';
import type { EventsPipeline } from './events-pipeline.ts';
import type { Fanout } from './fanout.ts';
import type { PresenceCache } from './presence-cache.ts';
import { DEFAULT_OBSERVABILITY, type ObservabilityProps, type RealtimeFunction } from './realtime-function.ts';
import type { SseEndpoint } from './sse-endpoint.ts';
import type { WebSocketApi } from './websocket-api.ts';

/** Metric names the handlers emit: the domain's, and the timing. */
export type ServiceMetricName = MetricName | 'DeliveryLatency';

export interface AlarmThresholds {
  /** Age of the oldest message in the events queue. @default 2 minutes */
  readonly queueAge?: Duration;
  /** Fan-out invocations that fail, in percent over 5 minutes. @default 5 */
  readonly fanoutErrorPercent?: number;
  /** API Gateway execution errors in 5 minutes. @default 5 */
  readonly apiServerErrors?: number;
}

export interface RealtimeDashboardProps {
  readonly webSocket: WebSocketApi;
  readonly fanout: Fanout;
  readonly sse: SseEndpoint;
  readonly events: EventsPipeline;
  readonly presence: PresenceCache;
  readonly observability?: ObservabilityProps;
  /** @default 'realtime' */
  readonly dashboardName?: string;
  readonly thresholds?: AlarmThresholds;
  /** Where alarms go (an SNS topic that pages). @default alarms only show on the dashboard */
  readonly alarmTopic?: sns.ITopic;
}

const MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

export class RealtimeDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly dashboardName: string;
  readonly alarms: {
    readonly deadLetters: cloudwatch.Alarm;
    readonly queueAge: cloudwatch.Alarm;
    readonly fanoutErrors: cloudwatch.Alarm;
    readonly apiServerErrors: cloudwatch.Alarm;
    readonly sseServerErrors: cloudwatch.Alarm;
    readonly throttles: cloudwatch.Alarm;
  };
  readonly #namespace: string;
  readonly #service: string;

  constructor(scope: Construct, id: string, props: RealtimeDashboardProps) {
    super(scope, id);
    const o = { ...DEFAULT_OBSERVABILITY, ...props.observability };
    this.#namespace = o.metricsNamespace;
    this.#service = o.serviceName;
    this.dashboardName = props.dashboardName ?? 'realtime';
    const { webSocket, fanout, sse, events, presence } = props;
    const functions: RealtimeFunction[] = [webSocket.authorizer, webSocket.connect, webSocket.disconnect, webSocket.message, fanout.fn, sse.fn];
    const t = props.thresholds ?? {};

    // --- Alarms ---------------------------------------------------------------------------
    const deadLetters = new cloudwatch.Alarm(this, 'DeadLettersAlarm', {
      alarmDescription: 'Events reached the dead-letter queue: read them (docs/deploy.md), fix, redrive.',
      metric: events.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: MINUTE, statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const queueAge = new cloudwatch.Alarm(this, 'QueueAgeAlarm', {
      alarmDescription: 'Events wait in the queue: the fan-out is failing, throttled or too slow.',
      metric: events.queue.metricApproximateAgeOfOldestMessage({ period: MINUTE, statistic: 'Maximum' }),
      threshold: (t.queueAge ?? Duration.minutes(2)).toSeconds(),
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const fanoutErrors = new cloudwatch.Alarm(this, 'FanoutErrorRateAlarm', {
      alarmDescription: 'Fan-out invocations fail (whole batches, not single records).',
      metric: new cloudwatch.MathExpression({
        expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
        usingMetrics: {
          errors: fanout.fn.function.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
          invocations: fanout.fn.function.metricInvocations({ period: FIVE_MINUTES, statistic: 'Sum' }),
        },
        label: 'fan-out error rate (%)',
        period: FIVE_MINUTES,
      }),
      threshold: t.fanoutErrorPercent ?? 5,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const apiServerErrors = new cloudwatch.Alarm(this, 'ApiServerErrorsAlarm', {
      alarmDescription: 'The WebSocket API failed to run its integrations (the 5xx of a WebSocket API).',
      metric: this.apiMetric(webSocket, 'ExecutionError', 'Sum', FIVE_MINUTES),
      threshold: t.apiServerErrors ?? 5,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const sseServerErrors = new cloudwatch.Alarm(this, 'SseServerErrorsAlarm', {
      alarmDescription: 'The SSE function URL answered 5xx.',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName: 'Url5xxCount',
        dimensionsMap: { FunctionName: sse.fn.function.functionName },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      }),
      threshold: t.apiServerErrors ?? 5,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const throttles = new cloudwatch.Alarm(this, 'ThrottlesAlarm', {
      alarmDescription: 'A function was throttled (account or reserved concurrency reached).',
      metric: new cloudwatch.MathExpression({
        expression: functions.map((_, i) => `FILL(t${String(i)}, 0)`).join(' + '),
        usingMetrics: Object.fromEntries(
          functions.map((f, i) => [`t${String(i)}`, f.function.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' })]),
        ),
        label: 'throttles, all functions',
        period: FIVE_MINUTES,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarms = { deadLetters, queueAge, fanoutErrors, apiServerErrors, sseServerErrors, throttles };
    if (props.alarmTopic) {
      const action = new actions.SnsAction(props.alarmTopic);
      for (const alarm of Object.values(this.alarms)) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }

    // --- Dashboard ------------------------------------------------------------------------
    const count = (name: ServiceMetricName, label: string): cloudwatch.Metric => this.serviceMetric(name, 'Sum', label);
    const opened = count('ConnectionsOpened', 'opened');
    const closed = count('ConnectionsClosed', 'closed');
    const width = 8;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new cloudwatch.TextWidget({
            markdown: [
              '# realtime',
              'Alarms first; then connections, messages, fan-out, functions, queue, presence cache.',
              '**Open connections** is the running sum of opened − closed over the range shown: it starts at 0 on the left edge and drifts up by the `$disconnect`s AWS never delivered (later pruned as stale).',
              'Runbook: docs/deploy.md.',
            ].join('\n\n'),
            width: 24,
            height: 3,
          }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 24, height: 3 })],
        [
          new cloudwatch.GraphWidget({
            title: 'Open connections (derived, see above)',
            width,
            left: [
              new cloudwatch.MathExpression({
                expression: 'RUNNING_SUM(FILL(opened, 0) - FILL(closed, 0))',
                usingMetrics: { opened, closed },
                label: 'open (approx.)',
                period: MINUTE,
              }),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'Connections opened / closed per minute',
            width,
            left: [opened, closed, this.apiMetric(webSocket, 'ConnectCount', 'Sum', MINUTE, 'connect requests (API)')],
          }),
          new cloudwatch.GraphWidget({
            title: 'Refused: auth failures, connection limits',
            width,
            left: [
              count('AuthFailures', 'auth failures'),
              count('ConnectionsRefused', 'refused by per-user/per-IP limits'),
              count('OriginRefused', 'refused: origin not allowed'),
            ],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Messages in / out per minute',
            width,
            left: [
              count('MessagesReceived', 'in (client messages)'),
              this.apiMetric(webSocket, 'MessageCount', 'Sum', MINUTE, 'API messages (both ways)'),
              count('MessagesDelivered', 'out (posts delivered)'),
              count('SseEventsSent', 'out (SSE events)'),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'Rate-limited and invalid messages',
            width,
            left: [
              count('MessagesRateLimited', 'rate-limited (per connection)'),
              count('ConnectionsClosedForFlooding', 'connections closed for flooding'),
              count('RateLimitFailOpen', 'limit checks failed open (Redis unreachable)'),
              count('PresenceRateLimited', 'presence updates rate-limited'),
              count('InvalidMessages', 'invalid'),
              count('SubscriptionsDenied', 'subscriptions denied'),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'API Gateway errors',
            width,
            left: [
              this.apiMetric(webSocket, 'ExecutionError', 'Sum', MINUTE, 'execution errors'),
              this.apiMetric(webSocket, 'IntegrationError', 'Sum', MINUTE, 'integration errors'),
              this.apiMetric(webSocket, 'ClientError', 'Sum', MINUTE, 'client errors (4xx)'),
            ],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Fan-out delivery latency (event time to post)',
            width,
            left: [this.serviceMetric('DeliveryLatency', 'p50', 'p50'), this.serviceMetric('DeliveryLatency', 'p99', 'p99')],
            leftYAxis: { label: 'ms', showUnits: false },
          }),
          new cloudwatch.GraphWidget({
            title: 'Fan-out: events and deliveries',
            width,
            left: [
              count('EventsProcessed', 'events processed'),
              count('EventsDuplicate', 'duplicates'),
              count('EventsRejected', 'rejected'),
              count('EventsMalformed', 'malformed'),
              count('FanoutPagesEnqueued', 'pages enqueued'),
            ],
            right: [count('DeliveryFailures', 'delivery failures'), count('DeliveryRetries', 'retries')],
          }),
          new cloudwatch.GraphWidget({
            title: 'Stale connections pruned (410 Gone)',
            width,
            left: [count('StaleConnectionsPruned', 'pruned')],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Errors per function',
            width,
            left: functions.map((f) => f.function.metricErrors({ period: MINUTE, statistic: 'Sum', label: f.handlerName })),
          }),
          new cloudwatch.GraphWidget({
            title: 'Throttles per function',
            width,
            left: functions.map((f) => f.function.metricThrottles({ period: MINUTE, statistic: 'Sum', label: f.handlerName })),
          }),
          new cloudwatch.GraphWidget({
            title: 'Duration p99 per function',
            width,
            left: functions
              .filter((f) => f.handlerName !== 'sse')
              .map((f) => f.function.metricDuration({ period: MINUTE, statistic: 'p99', label: `${f.handlerName} p99` })),
            right: [sse.fn.function.metricDuration({ period: MINUTE, statistic: 'p50', label: 'sse p50 (stream length)' })],
          }),
        ],
        [
          new cloudwatch.LogQueryWidget({
            title: 'Cold starts and init duration per function (Lambda REPORT lines)',
            width: 12,
            logGroupNames: functions.map((f) => f.logGroup.logGroupName),
            view: cloudwatch.LogQueryVisualizationType.TABLE,
            queryLines: [
              'filter @type = "REPORT"',
              'stats count(*) as invocations, sum(ispresent(@initDuration)) as coldStarts, avg(@initDuration) as avgInitMs, pct(@duration, 50) as p50Ms, pct(@duration, 99) as p99Ms by @log',
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'SSE streams',
            width: 12,
            left: [count('SseStreamsOpened', 'opened'), count('SseStreamsClosed', 'closed')],
            right: [
              new cloudwatch.Metric({
                namespace: 'AWS/Lambda',
                metricName: 'Url5xxCount',
                dimensionsMap: { FunctionName: sse.fn.function.functionName },
                statistic: 'Sum',
                period: MINUTE,
                label: 'URL 5xx',
              }),
            ],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Events queue: age of oldest message (s)',
            width,
            left: [events.queue.metricApproximateAgeOfOldestMessage({ period: MINUTE, statistic: 'Maximum', label: 'oldest' })],
          }),
          new cloudwatch.GraphWidget({
            title: 'Queue depth and dead letters',
            width,
            left: [events.queue.metricApproximateNumberOfMessagesVisible({ period: MINUTE, statistic: 'Maximum', label: 'queue visible' })],
            right: [events.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: MINUTE, statistic: 'Maximum', label: 'DLQ' })],
          }),
          new cloudwatch.GraphWidget({
            title: 'Presence',
            width,
            left: [count('PresenceUpdates', 'updates'), count('PresenceDepartures', 'departures')],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Redis: throttled commands and connections',
            width,
            left: [this.cacheMetric(presence, 'ThrottledCmds', 'Sum', 'throttled commands')],
            right: [this.cacheMetric(presence, 'CurrConnections', 'Maximum', 'connections')],
          }),
          new cloudwatch.GraphWidget({
            title: 'Redis: request latency (µs)',
            width,
            left: [
              this.cacheMetric(presence, 'SuccessfulReadRequestLatency', 'p99', 'read p99'),
              this.cacheMetric(presence, 'SuccessfulWriteRequestLatency', 'p99', 'write p99'),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'Redis: ECPUs and data',
            width,
            left: [this.cacheMetric(presence, 'ElastiCacheProcessingUnits', 'Sum', 'ECPUs')],
            right: [this.cacheMetric(presence, 'BytesUsedForCache', 'Maximum', 'bytes stored')],
          }),
        ],
      ],
    });
  }

  /** The console address of the dashboard. */
  get url(): string {
    const region = Stack.of(this).region;
    return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboardName}`;
  }

  /** A metric the handlers emit through Powertools (EMF): namespace and the `service` dimension. */
  serviceMetric(name: ServiceMetricName, statistic: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.#namespace,
      metricName: name,
      dimensionsMap: { service: this.#service },
      statistic,
      period: MINUTE,
      label,
    });
  }

  private apiMetric(ws: WebSocketApi, name: string, statistic: string, period: Duration, label?: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/ApiGateway',
      metricName: name,
      dimensionsMap: { ApiId: ws.api.apiId, Stage: ws.stageName },
      statistic,
      period,
      ...(label ? { label } : {}),
    });
  }

  /**
   * A metric of the presence cache, found by SEARCH on the cache's name rather than by a
   * dimension name: sources disagree on the dimension ElastiCache Serverless publishes under
   * (`clusterId` or `ServerlessCacheName`), and a search on the name matches either.
   */
  private cacheMetric(presence: PresenceCache, name: string, statistic: string, label: string): cloudwatch.IMetric {
    return new cloudwatch.MathExpression({
      expression: `SEARCH('Namespace="AWS/ElastiCache" MetricName="${name}" "${presence.cacheName}"', '${statistic}', 60)`,
      usingMetrics: {},
      label,
      period: MINUTE,
    });
  }
}
