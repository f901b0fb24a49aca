/** Request/response schemas for limits, budgets and input limits, derived from the gateway's fields. */
import { Type } from '@sinclair/typebox';
import { f } from '../../../plugins/core/schema';
import { BUDGET_FIELDS, INPUT_FIELDS, LIMIT_FIELDS } from '../../../plugins/core/tenancy';
import { fromKong } from './dto';

export const LimitsSchema = fromKong<Record<string, unknown>>(f.record(LIMIT_FIELDS), { description: 'Rate, token and concurrency limits (absent = unlimited).' });
export const BudgetsSchema = fromKong<Record<string, unknown>>(f.record(BUDGET_FIELDS), { description: 'Spend caps in USD (absent = no cap).' });
export const InputSchema = fromKong<Record<string, unknown>>(f.record(INPUT_FIELDS), { description: 'Input limits for llm-input-guard.' });
export const ListOfNames = (description: string) => Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 500, description });
export const OpenObject = Type.Object({}, { additionalProperties: true });
