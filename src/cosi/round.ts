// cosi/round.ts: the leader side of a co-signing round over a tree (docs/protocol.md section 3;
// docs/design.md "Collective signatures (CoSi)", availability and scale; CoSi's tree aggregation with
// MuSig2's two nonces). One attempt:
//   1. Commitment: the witnesses form a complete k-ary tree in roster order under the leader.
//      Each sub-leader collects its children's subtree commitments and sums them
//      (R1 = Σ R_i1, R2 = Σ R_i2). A witness that fails to commit (error, timeout, no endpoint)
//      is absent: left out of the bitmap. A sub-leader that fails to commit is re-parented
//      around: its parent asks its children directly, so its subtree still takes part.
//   2. Challenge: with the bitmap of everyone who committed, leader and witnesses derive
//      b, R = R1 + b·R2 and c (challenge.ts).
//   3. Response: each sub-leader sums its subtree's s_i. A witness that committed and does not
//      answer is excluded; a sub-leader that does not answer takes its subtree's answers with it
//      (they reached only it), so it is excluded and the round is retried with a new tree in
//      which its children are re-parented (chosen over excluding the subtree: the children did
//      nothing wrong).
//   4. Aggregation: s = Σ s_i; (R || s) must verify as Ed25519 under X. If it does not, the
//      leader checks subtree sums s_sub·B = R_sub1 + b·R_sub2 + c·X_sub from the top, descends
//      only into failing subtrees, and checks partial responses s_i·B = R_i1 + b·R_i2 + c·A_i
//      there: the cost is proportional to depth × branching, not to n. Witnesses found wrong are
//      excluded and the round is retried with fresh nonces, at most maxAttempts times.
// In-process, this module runs each sub-leader's aggregation on its behalf; a sub-leader
// "fails" when its own endpoint fails. Attribution trusts what sub-leaders relay (here, this
// module itself); a remote sub-leader that lied could get an honest child excluded from one
// signature, never make a bad signature pass.
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors/index.js';
import { CosiError, type WitnessFault } from './errors.js';
import { decodePoint, ed25519Verify, L, Point, scalarFromBytes, scalarToBytes } from './group.js';
import { encodeBitmap } from './bitmap.js';
import { computeChallenge, type RoundChallenge } from './challenge.js';
import type { CosiSigner, NonceCommitment } from './signer.js';
import type { AcceptedRoster } from './roster.js';
import type { CollectiveSignature } from './verify.js';

/** What the leader sends a witness in round 2 (protocol.md 3, step 2). */
export interface WitnessChallenge {
  session: string;
  /** The roster the bitmap refers to. */
  rosterHash: string;
  nonceId: string;
  R1: Uint8Array;
  R2: Uint8Array;
  bitmap: Uint8Array;
  message: Uint8Array;
}

/** One witness as the leader reaches it (in process, or over HTTP later). Calls may throw or hang. */
export interface WitnessEndpoint {
  /** Roster position of the witness. */
  readonly index: number;
  commit(session: string): Promise<NonceCommitment>;
  /** s_i as 32 little-endian bytes. */
  respond(challenge: WitnessChallenge): Promise<Uint8Array>;
}

/** An in-process endpoint for a CosiSigner that knows `roster`. */
export function localWitnessEndpoint(signer: CosiSigner, roster: AcceptedRoster): WitnessEndpoint {
  const index = roster.indexOf(signer.publicKeyHex);
  if (index < 0) throw new CosiError('NOT_A_PARTICIPANT', `signer ${signer.publicKeyHex.slice(0, 12)} is not in roster ${roster.hash.slice(0, 12)}`);
  return {
    index,
    commit: async () => signer.commit(),
    respond: async (challenge) => {
      if (challenge.rosterHash !== roster.hash) {
        throw new CosiError('UNKNOWN_ROSTER', `challenge names roster ${challenge.rosterHash.slice(0, 12)}, this witness serves ${roster.hash.slice(0, 12)}`);
      }
      return signer.respond({ ...challenge, roster });
    },
  };
}

export interface CosiRoundOptions {
  /** Children per node of the aggregation tree (>= 2); default 16. A value >= n gives a star. */
  branchingFactor?: number;
  /** Limit on each commit and respond call, in ms; default 10,000. */
  callTimeoutMs?: number;
  /** Attempts before giving up (each with fresh nonces); default 3. */
  maxAttempts?: number;
  /** Session identifier sent to witnesses (random by default); attempts append `/<n>`. */
  session?: string;
}

export interface CosiRoundResult {
  cosignature: CollectiveSignature;
  /** Roster positions set in the bitmap, ascending. */
  participants: number[];
  /** 1-based number of the attempt that succeeded. */
  attempts: number;
  /** Every absence and fault seen, in order. */
  faults: WitnessFault[];
}

export const COSI_ROUND_DEFAULTS = { branchingFactor: 16, callTimeoutMs: 10_000, maxAttempts: 3 } as const;

interface TreeNode {
  index: number;
  nonceId: string;
  R1: Point;
  R2: Point;
  children: TreeNode[];
  /** Subtree sums of commitments. */
  sum1: Point;
  sum2: Point;
  members: number[];
  /** Own partial response and the subtree's relayed sum (round 3). */
  s: bigint;
  sSum: bigint;
}

function withTimeout<T>(run: () => Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    let pending: Promise<T>;
    try {
      pending = run();
    } catch (e) {
      clearTimeout(timer);
      reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    pending.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function mulBase(s: bigint): Point {
  return s === 0n ? Point.ZERO : Point.BASE.multiply(s);
}

/** s·B = R1 + b·R2 + c·X: the partial (or subtree) response check of protocol.md 3. */
function checkPartialResponse(s: bigint, R1: Point, R2: Point, X: Point, challenge: Pick<RoundChallenge, 'b' | 'c'>): boolean {
  return mulBase(s).equals(R1.add(R2.multiplyUnsafe(challenge.b)).add(X.multiplyUnsafe(challenge.c)));
}

/**
 * Runs a co-signing round of `message` (the full domain-separated message) with `participants`.
 * Returns the collective signature once one verifies. Throws CosiError THRESHOLD_NOT_MET when
 * fewer than the roster's threshold can take part, RETRIES_EXHAUSTED when every attempt failed;
 * both carry `faults`.
 */
export async function runCosiRound(
  roster: AcceptedRoster,
  message: Uint8Array,
  participants: readonly WitnessEndpoint[],
  options: CosiRoundOptions = {},
): Promise<CosiRoundResult> {
  const k = options.branchingFactor ?? COSI_ROUND_DEFAULTS.branchingFactor;
  const timeoutMs = options.callTimeoutMs ?? COSI_ROUND_DEFAULTS.callTimeoutMs;
  const maxAttempts = options.maxAttempts ?? COSI_ROUND_DEFAULTS.maxAttempts;
  if (!Number.isInteger(k) || k < 2) throw new UsageError('BAD_ARGUMENT', `branchingFactor must be an integer >= 2, found ${k}`);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new UsageError('BAD_ARGUMENT', `maxAttempts must be an integer >= 1, found ${maxAttempts}`);
  const session = options.session ?? randomBytes(16).toString('hex');

  const endpoints = new Map<number, WitnessEndpoint>();
  for (const e of participants) {
    if (!Number.isInteger(e.index) || e.index < 0 || e.index >= roster.size) {
      throw new UsageError('BAD_ARGUMENT', `endpoint index ${e.index} is outside roster positions 0..${roster.size - 1}`);
    }
    if (endpoints.has(e.index)) throw new UsageError('BAD_ARGUMENT', `two endpoints for roster position ${e.index}`);
    endpoints.set(e.index, e);
  }

  const faults: WitnessFault[] = [];
  const out = new Set<number>(); // absent or excluded: not asked again
  const fault = (index: number, attempt: number, phase: WitnessFault['phase'], kind: WitnessFault['kind'], detail: string): void => {
    faults.push({ index, name: roster.nameOf(index), attempt, phase, kind, excluded: kind !== 'absent', detail });
    out.add(index);
  };
  for (let i = 0; i < roster.size; i++) if (!endpoints.has(i)) fault(i, 1, 'commit', 'absent', 'no endpoint');

  const thresholdError = (have: number, attempt: number): CosiError =>
    new CosiError('THRESHOLD_NOT_MET', `only ${have} of ${roster.size} witnesses can take part in attempt ${attempt}, roster ${roster.hash.slice(0, 12)} needs ${roster.threshold}`, {
      faults: [...faults],
      hint: 'check the faults: absent witnesses are unreachable, excluded ones answered wrongly',
    });

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const attemptSession = `${session}/${attempt}`;
    const candidates = [...endpoints.keys()].filter((i) => !out.has(i)).sort((a, b) => a - b);
    if (candidates.length < roster.threshold) throw thresholdError(candidates.length, attempt);

    // 1. Commitment, down the tree; a failed sub-leader's children are adopted by its parent.
    const commitAt = async (pos: number): Promise<TreeNode[]> => {
      const index = candidates[pos]!;
      let node: TreeNode | undefined;
      try {
        const c = await withTimeout(() => endpoints.get(index)!.commit(attemptSession), timeoutMs, 'commit');
        try {
          const R1 = decodePoint(c.R1, 'R_i1');
          const R2 = decodePoint(c.R2, 'R_i2');
          if (typeof c.nonceId !== 'string') throw new CosiError('BAD_ENCODING', 'nonce ID must be a string');
          node = { index, nonceId: c.nonceId, R1, R2, children: [], sum1: R1, sum2: R2, members: [index], s: 0n, sSum: 0n };
        } catch (e) {
          fault(index, attempt, 'commit', 'bad-commitment', errorText(e));
        }
      } catch (e) {
        fault(index, attempt, 'commit', 'absent', errorText(e));
      }
      const children = (await Promise.all(childPositions(pos).map(commitAt))).flat();
      if (!node) return children;
      node.children = children;
      for (const child of children) {
        node.sum1 = node.sum1.add(child.sum1);
        node.sum2 = node.sum2.add(child.sum2);
        for (const m of child.members) node.members.push(m);
      }
      return [node];
    };
    const childPositions = (pos: number): number[] => {
      const start = k * (pos + 1);
      const end = Math.min(start + k, candidates.length);
      const list: number[] = [];
      for (let p = start; p < end; p++) list.push(p);
      return list;
    };
    const top = (await Promise.all(childPositions(-1).map(commitAt))).flat();
    const committed = top.flatMap((n) => n.members).sort((a, b) => a - b);
    if (committed.length < roster.threshold) throw thresholdError(committed.length, attempt);

    // 2. Challenge.
    const bitmap = encodeBitmap(committed, roster.size);
    let R1sum = Point.ZERO;
    let R2sum = Point.ZERO;
    for (const n of top) {
      R1sum = R1sum.add(n.sum1);
      R2sum = R2sum.add(n.sum2);
    }
    const R1Bytes = R1sum.toBytes();
    const R2Bytes = R2sum.toBytes();
    const challenge = computeChallenge(roster, bitmap, R1Bytes, R2Bytes, message);

    // 3. Responses, up the tree.
    const respondAt = async (node: TreeNode): Promise<boolean> => {
      const own = withTimeout(
        // Copies: an in-process endpoint must not be able to alter what the others receive.
        () => endpoints.get(node.index)!.respond({ session: attemptSession, rosterHash: roster.hash, nonceId: node.nonceId, R1: R1Bytes.slice(), R2: R2Bytes.slice(), bitmap: bitmap.slice(), message: message.slice() }),
        timeoutMs,
        'respond',
      ).then(
        (bytes) => {
          try {
            node.s = scalarFromBytes(bytes, 's_i');
            return true;
          } catch (e) {
            fault(node.index, attempt, 'respond', 'bad-response', errorText(e));
            return false;
          }
        },
        (e: unknown) => {
          const lost = node.members.length - 1;
          fault(node.index, attempt, 'respond', 'no-response', errorText(e) + (lost > 0 ? ` (sub-leader: the answers of its ${lost} descendants were lost with it)` : ''));
          return false;
        },
      );
      const [ownOk, childrenOk] = await Promise.all([own, Promise.all(node.children.map(respondAt))]);
      if (!ownOk || !childrenOk.every(Boolean)) return false;
      let sum = node.s;
      for (const child of node.children) sum += child.sSum;
      node.sSum = sum % L;
      return true;
    };
    const complete = (await Promise.all(top.map(respondAt))).every(Boolean);
    if (!complete) continue;

    // 4. Aggregation, and fault attribution only if the aggregate fails.
    let s = 0n;
    for (const n of top) s += n.sSum;
    const signature = Buffer.concat([challenge.RBytes, scalarToBytes(s % L)]);
    if (ed25519Verify(challenge.aggregateKey.keyObject, message, signature)) {
      return { cosignature: { bitmap, signature: new Uint8Array(signature) }, participants: committed, attempts: attempt, faults };
    }
    const blamed = top.flatMap((n) => blame(n, roster, challenge));
    if (blamed.length === 0) {
      throw new CosiError('BAD_SIGNATURE', 'the aggregate signature fails although every subtree checks: the leader aggregated wrongly', { faults: [...faults] });
    }
    for (const b of blamed) fault(b.index, attempt, 'respond', 'bad-response', b.detail);
  }
  throw new CosiError('RETRIES_EXHAUSTED', `no valid collective signature after ${maxAttempts} attempts`, {
    faults: [...faults],
    hint: 'check the faults: each attempt excluded the witnesses that failed, and more kept failing',
  });
}

/** Witnesses of `node`'s subtree whose contribution is wrong (empty when the subtree checks). */
function blame(node: TreeNode, roster: AcceptedRoster, challenge: RoundChallenge): Array<{ index: number; detail: string }> {
  const Xsub = roster.sumKeys(node.members);
  if (checkPartialResponse(node.sSum, node.sum1, node.sum2, Xsub, challenge)) return [];
  const found: Array<{ index: number; detail: string }> = [];
  if (!checkPartialResponse(node.s, node.R1, node.R2, roster.keys[node.index]!, challenge)) {
    found.push({ index: node.index, detail: 'partial response fails s_i·B = R_i1 + b·R_i2 + c·A_i' });
  }
  for (const child of node.children) found.push(...blame(child, roster, challenge));
  if (found.length === 0) found.push({ index: node.index, detail: 'sub-leader relayed a subtree sum that does not check' });
  return found;
}
