/** Synthesises the CDK app for the infrastructure tests, without AWS credentials or network. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../lib/app.ts';
import type { RealtimeStack } from '../../lib/realtime-stack.ts';

export interface Synthesised {
  app: App;
  stack: RealtimeStack;
  template: Template;
  outdir: string;
}

/**
 * `full: true` synthesises as `npm run synth` does: esbuild bundles, CDK's built-in
 * CloudFormation validation and cdk-nag as a synthesis plugin (slow: tens of seconds here).
 * Otherwise the template only (a few seconds).
 */
export function synthesise(options: { full?: boolean; context?: Record<string, unknown> } = {}): Synthesised {
  const outdir = mkdtempSync(join(tmpdir(), 'realtime-cdk-'));
  const context: Record<string, unknown> = { ...options.context };
  if (!options.full) context['aws:cdk:bundling-stacks'] = [];
  // No credentials: synthesis must not need them.
  const saved = { id: process.env['AWS_ACCESS_KEY_ID'], secret: process.env['AWS_SECRET_ACCESS_KEY'] };
  delete process.env['AWS_ACCESS_KEY_ID'];
  delete process.env['AWS_SECRET_ACCESS_KEY'];
  try {
    const app = new App({ outdir, context, builtinCloudFormationValidation: options.full ?? false });
    const { stack } = buildApp(app, { nag: options.full ?? false });
    const template = Template.fromStack(stack);
    return { app, stack, template, outdir };
  } finally {
    if (saved.id !== undefined) process.env['AWS_ACCESS_KEY_ID'] = saved.id;
    if (saved.secret !== undefined) process.env['AWS_SECRET_ACCESS_KEY'] = saved.secret;
  }
}

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };

/** The one resource of `type` whose logical id starts with `prefix`. */
export function resource(template: Template, type: string, prefix: string): { id: string; r: Resource } {
  const found = Object.entries(template.findResources(type) as Record<string, Resource>).filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1) throw new Error(`${String(found.length)} ${type} resources start with ${prefix}`);
  const [id, r] = found[0]!;
  return { id, r };
}
