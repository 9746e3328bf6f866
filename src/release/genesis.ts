// release/genesis.ts: creating a repository's release log (docs/protocol.md section 5 "Genesis";
// docs/witness.md): the genesis block records the published state and the first roster, whose
// entries come from the witnesses themselves (GET /v1/info) and which the root keys authorize
// (roster-authorization.ts, checked again here against the published root).
// Every witness must accept it (POST /v1/genesis) at the roster's threshold before anything is
// written; then the roster, the block, the leader state and a co-signed head statement.
import { blockHash, buildGenesis, DEFAULT_SKIPCHAIN_PARAMS, FileLogStore, formatUtcTime, validateGenesis } from '../log/index.js';
import { describeWitnessError, requireLeaderKey, summarizeWitnesses } from './cosigning-round.js';
import { cachedSource, documentsFor, payloadOf } from './documents.js';
import { LeaderError, type WitnessReport } from './errors.js';
import { LEADER_STATE_FORMAT, readLeaderState, writeLeaderState, type LeaderState } from './leader-files.js';
import { LogLeader, type BlockReport, type InitLogOptions } from './leader.js';
import { rootRoleOfSource } from './roster-authorization.js';
import { DEFAULT_CALL_TIMEOUT_MS, WitnessConnection } from './witness-connection.js';

/**
 * Creates a log: the genesis block recording the published state, with the given roster and its
 * authorization by the root keys; sends it to every witness, runs a head round, writes
 * the log files and the leader state. Returns the leader and the genesis hash (the client's
 * trust anchor).
 */
export async function initLog(options: InitLogOptions): Promise<{ leader: LogLeader; genesis: string; report: BlockReport }> {
  if (await readLeaderState(options.stateFile)) throw new LeaderError('LOG_EXISTS', `${options.stateFile} exists: this repository already has a log`);
  const timeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const { roster } = options;
  const leaderKey = requireLeaderKey(options.leaderKey, roster, 'the genesis roster');
  const source = cachedSource(options.source);
  const now = (options.now ?? (() => new Date()))();
  const rootRole = await rootRoleOfSource(source);
  const genesis = validateGenesis(buildGenesis(options.params ?? DEFAULT_SKIPCHAIN_PARAMS, await payloadOf(source, formatUtcTime(now.getTime() / 1000)), { roster, authorization: [...options.authorization] }), rootRole);
  const chain = blockHash(genesis);
  const documents = await documentsFor(source, null, source.rootVersion);
  const results = await Promise.all(roster.witnesses.map((w) => new WitnessConnection(w.address, { timeoutMs, signer: { leaderKey, witnessKey: w.key } }).genesis({ block: genesis, documents }).then(() => undefined, (e: unknown) => e)));
  const missing: WitnessReport[] = [];
  results.forEach((e, i) => {
    if (e !== undefined) missing.push({ name: roster.witnesses[i]!.name, address: roster.witnesses[i]!.address, ...describeWitnessError(e) });
  });
  const accepted = roster.witnesses.length - missing.length;
  if (accepted < roster.threshold) {
    throw new LeaderError('ROUND_FAILED', `the genesis block was accepted by ${accepted} of ${roster.witnesses.length} witnesses, the roster needs ${roster.threshold}: ${summarizeWitnesses(missing)}`, { witnesses: missing });
  }
  for (const m of missing) options.progress?.(`witness ${m.name} did not accept the genesis block: ${m.code ?? m.status}: ${m.detail}`);
  const store = new FileLogStore(options.publicDir);
  await store.putRoster(roster);
  await store.putBlock(genesis);
  const state: LeaderState = { format: LEADER_STATE_FORMAT, chain, base: genesis.base, maxHeight: genesis.maxHeight, head: { index: 0, hash: chain } };
  await writeLeaderState(options.stateFile, state);
  const leader = new LogLeader(options, state, genesis);
  const head = await leader.headRound();
  return { leader, genesis: chain, report: { index: 0, hash: chain, rounds: [head], missingLinks: [] } };
}
