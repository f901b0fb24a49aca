/**
 * The reservation rules shared by llm-token-limit and llm-cost-quota (log phase):
 *  - usage known (`llm.usage`) → settle to the actual usage, whatever happened after: the
 *    provider billed it even if llm-output-redact then withheld the response;
 *  - the response came from a plugin's exit, or the upstream failed (5xx, timeout,
 *    nothing received) → refund everything;
 *  - 2xx without usage → keep the reservation (charged at worst case — documented);
 *  - any other status (4xx from the upstream) → refund: the provider does not bill it.
 */
import type { LlmUsage } from './context';

export type SettleAction = { action: 'refund' } | { action: 'actual'; usage: LlmUsage } | { action: 'keep' };

export interface Outcome {
  /** kong.response.get_source(): 'exit' | 'error' | 'service'. */
  source: string | undefined;
  /** Final status sent to the client. */
  status: number | undefined;
  usage: LlmUsage | undefined;
}

export function settleAction(o: Outcome): SettleAction {
  if (o.usage) return { action: 'actual', usage: o.usage };
  if (o.source !== 'service') return { action: 'refund' };
  const status = o.status ?? 0;
  return status >= 200 && status < 300 ? { action: 'keep' } : { action: 'refund' };
}
