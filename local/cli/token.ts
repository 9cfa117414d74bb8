/** `npm run token -- --user alice [--name "Alice"] [--ttl 3600]`: prints a development JWT. */
import '../quiet-sdk.ts';
import { mintDevToken } from '../dev-token.ts';
import { parseFlags } from './args.ts';

const flags = parseFlags(['user', 'name', 'picture', 'ttl'] as const);
if (flags.help || !flags.user) {
  console.error('usage: npm run token -- --user <userId> [--name <display name>] [--picture <url>] [--ttl <seconds>]');
  process.exit(flags.help ? 0 : 2);
}
const ttl = flags.ttl === undefined ? undefined : Number(flags.ttl);
if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) {
  console.error('--ttl must be a positive number of seconds');
  process.exit(2);
}
console.log(
  await mintDevToken({
    userId: flags.user,
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.picture ? { picture: flags.picture } : {}),
    ...(ttl ? { ttlSec: ttl } : {}),
  }),
);
