/** Paths of the shared model fixtures (read-only; tests never write there). */
import { join } from 'node:path';

export const fixtures = join(import.meta.dirname, '../../../../shared/fixtures/models');
export const stories = join(fixtures, 'stories260K');
export const gpt2Dir = join(fixtures, 'ort-genai-tiny/tiny-random-gpt2-fp32');
export const qwenDir = join(fixtures, 'ort-genai-tiny/tiny-qwen35-gqa-fp16');
