import '../local/quiet-sdk.ts';
import { runOps, opsMarkdown } from './ops.ts';
import { costMarkdown } from './cost.ts';
const r = await runOps({ quick: true, progress: (l) => console.error(l) });
console.log(opsMarkdown(r));
console.log(costMarkdown(r));
process.exit(0);
