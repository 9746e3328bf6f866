// witness/decisions.ts: what a witness tells its operator about each request (docs/witness.md
// "What operators see in the log"): the request, accepted or refused, and the rule's code.
import { isCairnError } from '../errors/index.js';

/** One decision of a witness, as its log records it (docs/witness.md "What operators see in the log"). */
export interface WitnessDecision {
  /** The request: `commit block 5`, `respond`, `genesis`, `POST /v1/commit`, ... */
  request: string;
  outcome: 'accepted' | 'refused';
  /** What was accepted (the statement and block). */
  what?: string;
  /** The head this witness recorded by accepting. */
  head?: number;
  /** Why it was refused: the rule's code (INTERNAL for a bug) and its message. */
  code?: string;
  message?: string;
}

export function refusal(request: string, e: unknown): WitnessDecision {
  return isCairnError(e)
    ? { request, outcome: 'refused', code: e.code, message: e.message }
    : { request, outcome: 'refused', code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/** The log line of a decision, as `cairn witness serve` prints it. */
export function describeDecision(d: WitnessDecision): string {
  if (d.outcome === 'refused') return `${d.request}: refused ${d.code}: ${d.message}`;
  return `${d.request}${d.what ? ` ${d.what}` : ''}: accepted${d.head !== undefined ? `; recorded head ${d.head}` : ''}`;
}
