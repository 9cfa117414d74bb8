/**
 * Synthesis as `npm run synth` does it, in process: no AWS credentials, no Docker, no network;
 * every handler bundled by the local esbuild; CDK's CloudFormation checks and cdk-nag's
 * AwsSolutions pack run, and nothing is left unacknowledged at error level.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLERS } from '../../functions/handlers.ts';
import { synthesise, type Synthesised } from './support.ts';

let synth: Synthesised;

beforeAll(() => {
  synth = synthesise({ full: true });
}, 120_000);

describe('npm run synth', () => {
  it('bundles every handler into an ESM file with a source map, the AWS SDK left to the runtime', () => {
    const bundles = readdirSync(synth.outdir)
      .filter((name) => name.startsWith('asset.') && existsSync(join(synth.outdir, name, 'index.mjs')))
      .map((name) => join(synth.outdir, name));
    expect(bundles).toHaveLength(Object.keys(HANDLERS).length);
    for (const dir of bundles) {
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
      expect(code).toMatch(/createRequire/); // the banner
      expect(code).toMatch(/export\s*\{[^}]*handler/);
      expect(code).not.toMatch(/node_modules\/@aws-sdk\/client-/);
    }
  });

  it('ships the chunks of code splitting beside the entry: ioredis loads on first use', () => {
    const assets = readdirSync(synth.outdir)
      .filter((name) => name.startsWith('asset.') && existsSync(join(synth.outdir, name, 'index.mjs')))
      .map((name) => join(synth.outdir, name));
    const chunksOf = (dir: string): string[] =>
      existsSync(join(dir, 'chunks')) ? readdirSync(join(dir, 'chunks')).filter((f) => f.endsWith('.mjs')) : [];
    for (const dir of assets) {
      const entry = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(entry).not.toMatch(/ioredis/i);
      // Every chunk the entry names is in the asset.
      for (const [, file] of entry.matchAll(/\.\/chunks\/([\w-]+\.mjs)/g)) expect(chunksOf(dir)).toContain(file);
    }
    // connect, disconnect, message and fanout reach Redis (presence, limits); authorizer and sse do not.
    const withRedis = assets.filter((dir) => chunksOf(dir).some((f) => f.startsWith('engines-')));
    expect(withRedis).toHaveLength(4);
    for (const dir of withRedis) {
      const engines = chunksOf(dir).filter((f) => f.startsWith('engines-'));
      expect(engines.map((f) => readFileSync(join(dir, 'chunks', f), 'utf8')).join('')).toMatch(/ioredis/i);
    }
  });

  it('leaves no cdk-nag AwsSolutions error unacknowledged', () => {
    const report = new AwsSolutionsChecks().validateScope(synth.app);
    const errors = report.violations.filter((v) => v.severity === 'error');
    expect(errors.map((e) => `${e.ruleName} at ${e.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });

  it('does catch an insecure resource (the check is live)', () => {
    const app = new App();
    const stack = new Stack(app, 'Insecure');
    new sqs.Queue(stack, 'PlainQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    const rules = new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error').map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });

  it('justifies every acknowledged finding in a sentence', () => {
    // CDK acknowledges some of its own CloudFormation-Validate warnings; ours are cdk-nag's.
    const acknowledged = acknowledgments(synth.app).filter(({ id }) => id.includes('AwsSolutions-'));
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { id, reason } of acknowledged) {
      expect(id).toMatch(/^(annotation::)?AwsSolutions-/i);
      expect(reason.length, id).toBeGreaterThan(40);
      expect(reason, id).toMatch(/\.$/);
    }
  });
});

function acknowledgments(root: IConstruct): { id: string; reason: string }[] {
  const found: { id: string; reason: string }[] = [];
  const visit = (node: IConstruct): void => {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) found.push({ id, reason });
    }
    node.node.children.forEach(visit);
  };
  visit(root);
  return found;
}
