import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderConfigDocs } from '../../scripts/gen-config-docs';

describe('docs/configuration.md', () => {
  it('is what the plugins’ schemas generate (run `npm run docs` after changing a schema)', () => {
    const committed = readFileSync(join(resolve(__dirname, '../..'), 'docs/configuration.md'), 'utf8');
    expect(committed).toBe(renderConfigDocs());
  });
});
