/**
 * `npm run publish -- --job J1 --user alice --status running --progress 40 [--message "..."]`
 * `npm run publish -- --notify alice --type comment.mention --title "..."`
 * Publishes through EventBridge PutEvents to the local runtime (or EVENTBRIDGE_ENDPOINT / AWS).
 */
import '../quiet-sdk.ts';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { createPublisher, PublishError, type JobUpdateInput } from '../../functions/publisher/publisher.ts';
import { JOB_STATUSES } from '../../functions/domain/messages.ts';
import { parseFlags } from './args.ts';

const flags = parseFlags(['job', 'user', 'status', 'progress', 'message', 'sequence', 'notify', 'type', 'title', 'body', 'doc', 'role', 'endpoint', 'bus'] as const);
const usage = `usage:
  npm run publish -- --job <jobId> --user <userId> --status <${JOB_STATUSES.join('|')}> [--progress 0-100] [--message text] [--sequence n]
  npm run publish -- --notify <userId> [--type kind] [--title text] [--body text]
  npm run publish -- --doc <documentId> --user <userId> --role <owner|editor|commenter|viewer|none>
options: --endpoint <url> (default EVENTBRIDGE_ENDPOINT or http://localhost:\${REALTIME_PORT:-3001}), --bus <name>`;
if (flags.help || (!flags.job && !flags.notify && !flags.doc)) {
  console.error(usage);
  process.exit(flags.help ? 0 : 2);
}

const endpoint = flags.endpoint ?? process.env['EVENTBRIDGE_ENDPOINT'] ?? `http://localhost:${process.env['REALTIME_PORT'] ?? '3001'}`;
const client = new EventBridgeClient({
  endpoint,
  region: process.env['AWS_REGION'] ?? 'us-east-1',
  // The local runtime accepts any credentials; real ones come from the usual AWS chain.
  ...(endpoint.includes('localhost') || endpoint.includes('127.0.0.1') ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
});
const publisher = createPublisher({ client, ...(flags.bus ? { eventBusName: flags.bus } : {}) });

try {
  let id: string;
  if (flags.job) {
    if (!flags.user || !flags.status) throw new PublishError('INVALID_MESSAGE', '--job needs --user and --status');
    const update: JobUpdateInput = { jobId: flags.job, userId: flags.user, status: flags.status as JobUpdateInput['status'] };
    if (flags.progress !== undefined) update.progress = Number(flags.progress);
    if (flags.message !== undefined) update.message = flags.message;
    if (flags.sequence !== undefined) update.sequence = Number(flags.sequence);
    id = await publisher.publishJobUpdate(update);
  } else if (flags.doc) {
    if (!flags.user || !flags.role) throw new PublishError('INVALID_MESSAGE', '--doc needs --user and --role');
    const role = flags.role === 'none' ? null : (flags.role as 'owner' | 'editor' | 'commenter' | 'viewer');
    id = await publisher.publishDocumentPermission({ documentId: flags.doc, userId: flags.user, role });
  } else {
    id = await publisher.publishNotification({
      userId: flags.notify as string,
      ...(flags.type ? { type: flags.type } : {}),
      ...(flags.title ? { title: flags.title } : {}),
      ...(flags.body ? { body: flags.body } : {}),
    });
  }
  console.log(`published ${id}`);
} catch (error) {
  console.error(error instanceof PublishError ? `${error.code}: ${error.message}` : error);
  process.exit(1);
} finally {
  client.destroy();
}
