// tsconfig uses moduleResolution "node", which ignores package `exports`: map the subpath
// imports esbuild and vitest resolve through the exports map to their shipped typings.
declare module 'gpt-tokenizer/encoding/o200k_base' {
  export * from 'gpt-tokenizer/cjs/encoding/o200k_base';
}
declare module 'gpt-tokenizer/encoding/cl100k_base' {
  export * from 'gpt-tokenizer/cjs/encoding/cl100k_base';
}
