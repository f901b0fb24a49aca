/** Precision/recall per entity of `detect` on the labelled corpus (used by bench/redact.ts and tests). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detect, ENTITIES, type Entity, type Finding } from '../../../plugins/core/text/detect';
import type { LabelledDoc } from './generate';

export function loadCorpus(): LabelledDoc[] {
  return readFileSync(join(__dirname, 'corpus.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as LabelledDoc);
}

export interface EntityScore {
  entity: Entity;
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
}

/**
 * A prediction is a true positive when it has the label's entity and overlaps the label's span;
 * a label no prediction overlaps is a false negative; a prediction overlapping no label of its
 * entity is a false positive. `exact` counts only predictions whose span equals the label's.
 */
export function score(
  docs: LabelledDoc[],
  detector: (text: string) => Array<{ entity: Entity; start: number; end: number }> = (t) => detect(t),
  exact = false,
): { perEntity: EntityScore[]; misses: Array<{ id: number; entity: Entity; kind: 'fp' | 'fn'; text: string }> } {
  const acc = new Map<Entity, { tp: number; fp: number; fn: number }>(ENTITIES.map((e) => [e, { tp: 0, fp: 0, fn: 0 }]));
  const misses: Array<{ id: number; entity: Entity; kind: 'fp' | 'fn'; text: string }> = [];
  const match = (p: { start: number; end: number }, l: { start: number; end: number }) => (exact ? p.start === l.start && p.end === l.end : p.start < l.end && l.start < p.end);
  for (const d of docs) {
    const preds: Array<Pick<Finding, 'entity' | 'start' | 'end'>> = detector(d.text);
    for (const l of d.labels) {
      const a = acc.get(l.entity)!;
      if (preds.some((p) => p.entity === l.entity && match(p, l))) a.tp++;
      else {
        a.fn++;
        misses.push({ id: d.id, entity: l.entity, kind: 'fn', text: d.text.slice(l.start, l.end) });
      }
    }
    for (const p of preds) {
      if (!d.labels.some((l) => l.entity === p.entity && match(p, l))) {
        const a = acc.get(p.entity);
        if (a) a.fp++;
        misses.push({ id: d.id, entity: p.entity, kind: 'fp', text: d.text.slice(Math.max(0, p.start - 30), p.end + 10) });
      }
    }
  }
  const perEntity = [...acc.entries()].map(([entity, a]) => ({
    entity,
    ...a,
    precision: a.tp + a.fp === 0 ? 1 : a.tp / (a.tp + a.fp),
    recall: a.tp + a.fn === 0 ? 1 : a.tp / (a.tp + a.fn),
  }));
  return { perEntity, misses };
}

/**
 * Hand-written, LLM-answer-like texts (test/data/pii/handwritten.jsonl) written separately from
 * the generator's templates: `entities` list values; spans are their occurrences in order.
 */
export function loadHandwritten(): LabelledDoc[] {
  return readFileSync(join(__dirname, 'handwritten.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l, id) => {
      const d = JSON.parse(l) as { text: string; entities: Array<{ entity: Entity; value: string }> };
      const from = new Map<string, number>();
      const labels = d.entities.map((e) => {
        const start = d.text.indexOf(e.value, from.get(e.value) ?? 0);
        if (start < 0) throw new Error(`handwritten #${id}: value not in text`);
        from.set(e.value, start + e.value.length);
        return { entity: e.entity, start, end: start + e.value.length };
      });
      return { id, text: d.text, labels };
    });
}
