/** One interface over llama2.c vocabularies and Hugging Face tokenizer.json files. */
export interface Tokenizer {
  readonly kind: 'llama2c' | 'hf';
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  /** run.c semantics for llama2c (BOS first when opts.bos, default true; dummy-prefix space; byte fallback). */
  encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[];
  /** An upper bound on encode()'s ids for a text of `utf8Bytes` UTF-8 bytes (BOS/EOS included), computed without
   *  tokenizing: lets a caller refuse an over-long prompt before any work. Optional for test doubles. */
  maxTokens?(utf8Bytes: number): number;
  /** Text of the ids as llama2.c prints it (BOS/EOS not printed; the space after BOS dropped). */
  decode(ids: readonly number[]): string;
  /** Incremental decoder for streaming: push(id) returns the text that is now complete (UTF-8 safe), as
   *  llama2.c prints it (leading space stripped after BOS, <0xXX> byte tokens as bytes). Push the prompt's ids
   *  first (ignoring what they return) so the first generated token is decoded in context. */
  createStreamDecoder(): { push(id: number): string; flush(): string };
}

/** Options of the tokenizer constructors. */
export interface TokenizerOptions {
  /** Called after each encode with the merge loop's work (queue pushes, pops and comparisons): a deterministic
   *  cost measure for tests and benchmarks. */
  onWork?: (units: number) => void;
}

/** Text from a byte stream that may split UTF-8 sequences between pushes. */
export function utf8Stream(): { push(bytes: Uint8Array): string; flush(): string } {
  const dec = new TextDecoder('utf-8');
  return { push: (b) => dec.decode(b, { stream: true }), flush: () => dec.decode() };
}
