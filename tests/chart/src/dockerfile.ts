/** A small Dockerfile reader: stages, COPY instructions and the ENTRYPOINT, enough to check what an image needs. */

export interface DockerCopy {
  /** Line number of the instruction (1-based). */
  line: number;
  /** `--from` stage name, when copying from an earlier stage. */
  from?: string;
  sources: string[];
  dest: string;
}

export interface DockerStage {
  name?: string;
  base: string;
  platform?: string;
  workdir?: string;
  copies: DockerCopy[];
  runs: string[];
  user?: string;
  entrypoint?: string[];
}

export interface Dockerfile {
  args: string[];
  stages: DockerStage[];
}

/** Logical instructions: comments dropped, `\` continuations joined, each with its first line number. */
function instructions(text: string): { line: number; op: string; rest: string }[] {
  const out: { line: number; op: string; rest: string }[] = [];
  let pending: { line: number; text: string } | undefined;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    if (!pending && (trimmed === '' || trimmed.startsWith('#'))) return;
    if (pending && trimmed.startsWith('#')) return;
    const continued = trimmed.endsWith('\\');
    const body = continued ? trimmed.slice(0, -1) : trimmed;
    pending = pending ? { line: pending.line, text: `${pending.text} ${body}` } : { line: i + 1, text: body };
    if (!continued) {
      const m = /^(\S+)\s*(.*)$/s.exec(pending.text)!;
      out.push({ line: pending.line, op: m[1]!.toUpperCase(), rest: m[2]!.trim() });
      pending = undefined;
    }
  });
  return out;
}

/** Parses the instructions the image checks need; throws naming the line for an instruction before FROM. */
export function parseDockerfile(text: string): Dockerfile {
  const file: Dockerfile = { args: [], stages: [] };
  for (const ins of instructions(text)) {
    const stage = file.stages.at(-1);
    switch (ins.op) {
      case 'ARG':
        if (stage) break;
        file.args.push(ins.rest.split('=')[0]!);
        break;
      case 'FROM': {
        const m = /^(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.rest);
        if (!m) throw new Error(`line ${ins.line}: cannot read FROM ${ins.rest}`);
        file.stages.push({ base: m[2]!, copies: [], runs: [], ...(m[1] ? { platform: m[1] } : {}), ...(m[3] ? { name: m[3] } : {}) });
        break;
      }
      default: {
        if (!stage) throw new Error(`line ${ins.line}: ${ins.op} before the first FROM`);
        if (ins.op === 'WORKDIR') stage.workdir = ins.rest;
        else if (ins.op === 'RUN') stage.runs.push(ins.rest);
        else if (ins.op === 'USER') stage.user = ins.rest;
        else if (ins.op === 'ENTRYPOINT') stage.entrypoint = JSON.parse(ins.rest) as string[];
        else if (ins.op === 'COPY' || ins.op === 'ADD') {
          const words = ins.rest.split(/\s+/);
          const flags = words.filter((w) => w.startsWith('--'));
          const paths = words.filter((w) => !w.startsWith('--'));
          if (paths.length < 2) throw new Error(`line ${ins.line}: ${ins.op} needs a source and a destination`);
          const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
          stage.copies.push({ line: ins.line, sources: paths.slice(0, -1), dest: paths.at(-1)!, ...(from ? { from } : {}) });
        }
      }
    }
  }
  return file;
}
