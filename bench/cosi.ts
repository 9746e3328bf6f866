// bench/cosi.ts: collective signing and verification (docs/design.md "Collective signatures (CoSi)";
// docs/protocol.md section 3). Co-signing latency from proposal to final signature with
// in-process witnesses and tree aggregation (branching factor 16), for 16 to 4,096 witnesses;
// and verification of one collective signature, split into the key sum (uncached: what a
// verifier pays once per roster and bitmap) and the rest (bitmap checks, cached X, one
// node:crypto Ed25519 verification). Targets: 1,024 witnesses co-sign in under 1 s;
// verification takes under 1 ms plus the key sum.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  acceptRoster, cosiMessage, createProofOfPossession, CosiSigner, localWitnessEndpoint, runCosiRound,
  verifyCollectiveSignature, witnessKeyFromSeed, type AcceptedRoster, type WitnessEndpoint, ed25519KeyObject,
  ed25519Verify, toHex,
} from '../src/cosi/index.js';
import { median, timeRuns, ms, type BenchResult } from './stats.js';

const BRANCHING = 16;

interface Fleet {
  roster: AcceptedRoster;
  signers: CosiSigner[];
  endpoints: WitnessEndpoint[];
  setupMs: number;
  acceptMs: number;
}

function fleet(n: number): Fleet {
  const t0 = performance.now();
  const keys = Array.from({ length: n }, (_, i) => witnessKeyFromSeed(createHash('sha256').update(`cairn-bench-witness/${i}`).digest()));
  const roster = {
    threshold: Math.floor((2 * n) / 3) + 1,
    witnesses: keys.map((k, i) => ({ name: `w${i}`, key: k.publicKeyHex, pop: toHex(createProofOfPossession(k)), address: `http://10.0.${i >> 8}.${i & 255}:7000` })),
  };
  const t1 = performance.now();
  const accepted = acceptRoster(roster);
  const t2 = performance.now();
  const signers = keys.map((k) => new CosiSigner(k));
  const endpoints = signers.map((s) => localWitnessEndpoint(s, accepted));
  return { roster: accepted, signers, endpoints, setupMs: t1 - t0, acceptMs: t2 - t1 };
}

export async function benchCosi(quick: boolean): Promise<BenchResult[]> {
  const sizes = quick ? [16, 64, 256] : [16, 64, 256, 1024, 4096];
  const lines: string[] = [];
  const targets: BenchResult['targets'] = [];
  let statement = 0;
  const nextMessage = (): Uint8Array => cosiMessage('cairn/v1/head', { head: 'ab'.repeat(32), index: ++statement, time: '2025-01-01T00:00:00Z' });
  let verifyFleet: { roster: AcceptedRoster; message: Uint8Array; cosig: Awaited<ReturnType<typeof runCosiRound>>['cosignature'] } | undefined;

  for (const n of sizes) {
    const f = fleet(n);
    const runs = n >= 4096 ? 3 : n >= 1024 ? 5 : 7;
    const round = async (): Promise<void> => {
      const message = nextMessage();
      const result = await runCosiRound(f.roster, message, f.endpoints, { branchingFactor: BRANCHING });
      if (result.participants.length !== n) throw new Error(`only ${result.participants.length} of ${n} co-signed`);
      verifyFleet = { roster: f.roster, message, cosig: result.cosignature };
    };
    // Fresh nonces: each witness draws its pair when the leader asks (round 1 on the critical path).
    const fresh = median(await timeRuns(runs, round, 1));
    // Prepared nonces: witnesses drew pairs while idle (MuSig2 round 1 is message-independent).
    for (const signer of f.signers) signer.prepare(runs + 1);
    const prepared = median(await timeRuns(runs, round, 1));
    lines.push(
      `co-sign, ${String(n).padStart(4)} witnesses (tree k=${BRANCHING})  prepared nonces median ${ms(prepared).padStart(8)}  ` +
        `fresh nonces median ${ms(fresh).padStart(8)}  (${((prepared * 1000) / n).toFixed(0)} / ${((fresh * 1000) / n).toFixed(0)} us a witness; ` +
        `roster acceptance, once: ${ms(f.acceptMs)})`,
    );
    if (n === 1024) {
      targets.push({ target: '1,024 in-process witnesses co-sign in under 1 s (nonces prepared ahead)', met: prepared < 1000, figure: ms(prepared) });
      targets.push({ target: '1,024 in-process witnesses co-sign in under 1 s (fresh nonces)', met: fresh < 1000, figure: ms(fresh) });
    }
  }

  // Verification, with the largest roster signed above.
  const v = verifyFleet!;
  const all = Array.from({ length: v.roster.size }, (_, i) => i);
  const keySum = median(await timeRuns(9, async () => v.roster.sumKeys(all).toBytes()));
  const aggregate = v.roster.aggregateKey(v.cosig.bitmap);
  const keyObject = ed25519KeyObject(aggregate.bytes);
  const batch = 200;
  const ed = median(await timeRuns(7, async () => {
    for (let i = 0; i < batch; i++) if (!ed25519Verify(keyObject, v.message, v.cosig.signature)) throw new Error('verify failed');
  })) / batch;
  const full = median(await timeRuns(7, async () => {
    for (let i = 0; i < batch; i++) verifyCollectiveSignature(v.roster, v.message, v.cosig);
  })) / batch;
  lines.push(`verify, ${v.roster.size} witnesses: key sum (uncached, encode X once)  median ${ms(keySum)}`);
  lines.push(`verify: one node:crypto Ed25519 verification under X     median ${ms(ed)}`);
  lines.push(`verify: verifyCollectiveSignature with cached X         median ${ms(full)} (bitmap, count, s < L, Ed25519)`);
  targets.push({ target: 'verification under 1 ms plus the key sum', met: full < 1, figure: `${ms(full)} + key sum ${ms(keySum)}` });

  return [{ name: 'collective signatures (CoSi, two nonces, tree aggregation)', lines, targets }];
}
