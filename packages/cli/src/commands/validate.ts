/** `slmops validate -f <file|dir> …`: checks SLMDeployment manifests offline, with the CRD's own rules. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
// The validation entry point only: no zod or schema builder to load (see @slmops/api's validate.ts).
import { GROUP, validateSLMDeployment, type FieldError } from '@slmops/api/validate';
import { parseAllDocuments } from 'yaml';
import { type CliContext, type Command, type FlagTable, UsageError, writeLine } from '../context.js';

export interface DocumentResult {
  file: string;
  index: number;
  name: string;
  skipped?: string;
  problems: FieldError[];
}

const isManifestFile = (f: string) => /\.(ya?ml|json)$/.test(f);

function expandPaths(paths: string[], cwd: string): string[] {
  return paths.flatMap((p) => {
    const full = resolve(cwd, p);
    let stat;
    try {
      stat = statSync(full);
    } catch {
      throw new UsageError(`${p}: no such file or directory`);
    }
    if (!stat.isDirectory()) return [full];
    return readdirSync(full)
      .filter(isManifestFile)
      .sort()
      .map((f) => join(full, f));
  });
}

/** Validates every document of a YAML stream; SLMOps kinds are validated, other kinds are reported as skipped. */
export function validateManifestText(text: string, file: string): DocumentResult[] {
  return parseAllDocuments(text).map((doc, index): DocumentResult => {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const line = e.linePos?.[0]?.line;
      return { file, index, name: '?', problems: [{ path: '', type: 'Invalid', message: `YAML parse error${line ? ` at line ${line}` : ''}: ${e.message.split('\n')[0]}` }] };
    }
    const obj = doc.toJS() as Record<string, unknown> | null;
    const meta = (obj?.['metadata'] ?? {}) as { name?: unknown; namespace?: unknown };
    const name = `${typeof meta.namespace === 'string' ? `${meta.namespace}/` : ''}${typeof meta.name === 'string' ? meta.name : '?'}`;
    const apiVersion = typeof obj?.['apiVersion'] === 'string' ? obj['apiVersion'] : '';
    if (obj && !apiVersion.startsWith(`${GROUP}/`) && obj['kind'] !== 'SLMDeployment') {
      return { file, index, name, skipped: `${String(obj['kind'] ?? 'unknown kind')} is not an SLMOps resource`, problems: [] };
    }
    return { file, index, name, problems: validateSLMDeployment(obj) };
  });
}

const VALIDATE_FLAGS = {
  filename: { type: 'string', short: 'f', multiple: true, value: '<file|dir>', help: 'a manifest file, or a folder of .yaml/.yml/.json files' },
  output: { type: 'string', short: 'o', default: 'text', value: '<text|json>', help: 'output format' },
} as const satisfies FlagTable;

export const validateCommand: Command = {
  summary: 'Validate SLMDeployment manifests offline with the rules of the CRD',
  usage: 'slmops validate -f <file|dir> [-f …] [-o text|json]',
  flags: VALIDATE_FLAGS,
  async run(argv: string[], ctx: CliContext): Promise<number> {
    const { values } = parseArgs({ args: argv, options: VALIDATE_FLAGS, strict: true });
    if (!values.filename?.length) throw new UsageError('validate needs at least one -f <file|dir>');
    if (values.output !== 'text' && values.output !== 'json') throw new UsageError(`-o must be text or json, got ${values.output}`);
    const results = expandPaths(values.filename, ctx.cwd).flatMap((file) =>
      validateManifestText(readFileSync(file, 'utf8'), relative(ctx.cwd, file) || file),
    );
    const invalid = results.filter((r) => r.problems.length > 0);
    if (values.output === 'json') {
      writeLine(ctx.stdout, JSON.stringify({ valid: invalid.length === 0, results }, null, 2));
    } else {
      for (const r of results) {
        const where = `${r.file}${results.filter((x) => x.file === r.file).length > 1 ? `#${r.index}` : ''}`;
        if (r.skipped) writeLine(ctx.stdout, `${where}: skipped: ${r.skipped}`);
        else if (r.problems.length === 0) writeLine(ctx.stdout, `${where}: SLMDeployment ${r.name} is valid`);
        else {
          writeLine(ctx.stderr, `${where}: SLMDeployment ${r.name} is invalid:`);
          for (const p of r.problems) writeLine(ctx.stderr, `  ${p.path || '<root>'}: ${p.message}`);
        }
      }
    }
    return invalid.length === 0 ? 0 : 1;
  },
};
