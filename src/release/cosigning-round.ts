// release/cosigning-round.ts: one co-signing round of the log leader over HTTP (docs/protocol.md
// section 3 and section 8): cosi's runCosiRound (tree aggregation, fault attribution, bounded
// retries) driven through each witness's HTTP API, and a report of what every witness did: which
// co-signed, which were absent, which refused and under which rule, which answered wrongly and
// were excluded. A round that fewer than the threshold co-sign is a LeaderError('ROUND_FAILED')
// carrying that report.
import { randomBytes } from 'node:crypto';
import { acceptRoster, CosiError, runCosiRound, type CosiRoundResult, type Roster, type RosterWitness, type WitnessEndpoint, type WitnessKey } from '../cosi/index.js';
import type { CommitRequest, StatementKind } from '../witness/index.js';
import { LeaderError, WitnessCallError, type WitnessReport } from './errors.js';
import { httpWitnessEndpoint, WitnessConnection, type HttpWitnessEndpoint } from './witness-connection.js';

/** What one co-signing round did. */
export interface RoundReport {
  kind: StatementKind;
  what: string;
  /** Names of the co-signers. */
  cosigners: string[];
  /** Witnesses that did not co-sign, and why. */
  missing: WitnessReport[];
  attempts: number;
  /** What co-signers said about what they checked (an upstream import fetched or not), by name; absent when none said anything. */
  notes?: Record<string, string[]>;
}

/** How the leader runs rounds: deadlines, retries, the tree, and a hook for tests to inject faults. */
export interface RoundSettings {
  /** Deadline of each call to a witness, in ms. */
  callTimeoutMs: number;
  /** Attempts of a round. */
  maxAttempts: number;
  /** Children per node of the aggregation tree. */
  branchingFactor: number;
  /** Wraps each endpoint of a round; tests inject faults here. */
  wrapEndpoint?: (endpoint: HttpWitnessEndpoint, witness: RosterWitness, kind: StatementKind) => WitnessEndpoint;
  /** Told when a respond request is sent (a witness may then have recorded the statement). */
  onRespondSent?: () => void;
  /** The leader's witness key: requests are signed with it, and it must be in the roster of the round. */
  leaderKey?: WitnessKey;
}

/**
 * The leader's key, checked to be a member of `roster` (witnesses work only for members,
 * docs/witness.md "Who may lead"); LeaderError LEADER_KEY otherwise.
 */
export function requireLeaderKey(leaderKey: WitnessKey | undefined, roster: Roster, what: string): WitnessKey {
  const hint = 'pass --leader-key FILE: the witness key file (DIR/witness-key.json) of a witness of the roster, on the machine that leads';
  if (!leaderKey) throw new LeaderError('LEADER_KEY', `${what}: no leader key was given; witnesses work only for a member of their roster`, { hint });
  if (!roster.witnesses.some((w) => w.key === leaderKey.publicKeyHex)) {
    throw new LeaderError('LEADER_KEY', `${what}: the leader key ${leaderKey.publicKeyHex.slice(0, 12)} is not in the roster (${roster.witnesses.map((w) => w.name).join(', ')}); witnesses work only for a member`, { hint });
  }
  return leaderKey;
}

/** What the round commits each witness to: the statement and what that witness needs to check it. */
export type CommitBodies = Map<number, Omit<CommitRequest, 'session'>>;

/** How a failed call to a witness is reported. */
export function describeWitnessError(e: unknown): { status: WitnessReport['status']; code?: string; detail: string } {
  if (e instanceof WitnessCallError && e.refusal) return { status: 'refused', code: e.refusal.code, detail: e.refusal.message };
  return { status: 'absent', detail: e instanceof Error ? e.message : String(e) };
}

/** One line summing up witness reports by outcome, with the first refusal's own words. */
export function summarizeWitnesses(reports: readonly WitnessReport[]): string {
  const byCode = new Map<string, string[]>();
  for (const r of reports) {
    const key = r.status === 'refused' ? `refused ${r.code}` : r.status;
    byCode.set(key, [...(byCode.get(key) ?? []), r.name]);
  }
  const first = reports.find((r) => r.status === 'refused');
  return [...byCode].map(([k, names]) => `${k} (${names.join(', ')})`).join('; ') + (first ? `; ${first.name} said: ${first.detail}` : '');
}

/**
 * Runs one round for `message` among the witnesses of `roster` that `commits` names (`skipped`
 * says why the others are left out). Returns the collective signature and the report; throws
 * LeaderError('ROUND_FAILED') when fewer than the threshold co-sign.
 */
export async function runCosigningRound(
  settings: RoundSettings,
  kind: StatementKind,
  what: string,
  roster: Roster,
  message: Uint8Array,
  commits: CommitBodies,
  skipped: ReadonlyMap<number, WitnessReport>,
): Promise<{ result: CosiRoundResult; report: RoundReport }> {
  const leaderKey = requireLeaderKey(settings.leaderKey, roster, what);
  const accepted = acceptRoster(roster);
  const endpoints = new Map<number, HttpWitnessEndpoint>();
  const participants: WitnessEndpoint[] = [];
  for (const [i, body] of commits) {
    const w = roster.witnesses[i]!;
    const endpoint = httpWitnessEndpoint(new WitnessConnection(w.address, { timeoutMs: settings.callTimeoutMs, signer: { leaderKey, witnessKey: w.key } }), i, body);
    endpoints.set(i, endpoint);
    const wrapped = settings.wrapEndpoint ? settings.wrapEndpoint(endpoint, w, kind) : endpoint;
    participants.push({
      index: wrapped.index,
      commit: (session) => wrapped.commit(session),
      respond: (challenge) => {
        settings.onRespondSent?.();
        return wrapped.respond(challenge);
      },
    });
  }
  const reportFor = (faulted: ReadonlySet<number>, cosigners: ReadonlySet<number>): WitnessReport[] =>
    roster.witnesses.flatMap((w, i) => {
      if (cosigners.has(i)) return [];
      const skip = skipped.get(i);
      if (skip) return [skip];
      const e = endpoints.get(i)?.lastError;
      if (e !== undefined) return [{ name: w.name, address: w.address, ...describeWitnessError(e) }];
      return faulted.has(i) ? [{ name: w.name, address: w.address, status: 'absent' as const, detail: 'no answer' }] : [];
    });
  let result: CosiRoundResult;
  try {
    result = await runCosiRound(accepted, message, participants, {
      callTimeoutMs: settings.callTimeoutMs,
      maxAttempts: settings.maxAttempts,
      branchingFactor: settings.branchingFactor,
      session: `${kind}-${randomBytes(8).toString('hex')}`,
    });
  } catch (e) {
    if (!(e instanceof CosiError)) throw e;
    const missing = reportFor(new Set(e.faults.map((f) => f.index)), new Set());
    for (const f of e.faults) {
      const m = missing.find((r) => r.name === roster.witnesses[f.index]!.name);
      if (m && m.status === 'absent' && f.kind !== 'absent') m.status = 'excluded';
    }
    throw new LeaderError('ROUND_FAILED', `${what} was not co-signed: ${e.message}; ${summarizeWitnesses(missing)}`, {
      witnesses: missing,
      cause: e,
      hint: 'refused: the witnesses name the rule that failed; absent: check that they run and are reachable',
    });
  }
  const cosigners = new Set(result.participants);
  const missing = reportFor(new Set(result.faults.map((f) => f.index)), cosigners);
  for (const f of result.faults) {
    const m = missing.find((r) => r.name === roster.witnesses[f.index]!.name);
    if (m && f.kind !== 'absent') m.status = 'excluded';
  }
  const notes = Object.fromEntries(result.participants.flatMap((i) => {
    const said = endpoints.get(i)?.notes ?? [];
    return said.length > 0 ? [[roster.witnesses[i]!.name, said]] : [];
  }));
  return {
    result,
    report: { kind, what, cosigners: result.participants.map((i) => roster.witnesses[i]!.name), missing, attempts: result.attempts, ...(Object.keys(notes).length > 0 ? { notes } : {}) },
  };
}
