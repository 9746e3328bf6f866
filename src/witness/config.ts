// witness/config.ts: a witness's directory (docs/witness.md "Running a witness"). One
// directory DIR per witness:
//
//   DIR/witness.json       configuration: name, address (the URL leaders reach it at), clock
//                          skew, request body cap, and the one chain it serves (docs/witness.md
//                          "The chain a witness serves"): a genesis hash, or the root keys that
//                          must authorize the genesis roster
//   DIR/witness-key.json   its Ed25519 key (cairn/private-key/v1, mode 0600; never printed)
//   DIR/state.db           its SQLite state (store.ts): recorded blocks, rosters, TUF state,
//                          used nonce IDs; WAL mode, so also state.db-wal and state.db-shm
//   DIR/witness.lock       the pid of the process serving it, which holds state.db exclusively
//                          (lock.ts): one process per directory
//
// The roster entry {name, key, pop, address} (docs/protocol.md section 4) is derived from the
// key and the configuration; the root key holders put it into a roster.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createProofOfPossession, witnessKeyFromSeed, type RosterWitness, type WitnessKey } from '../cosi/index.js';
import { readKeyFileHeader, writeKeyFile } from '../crypto/key-file.js';
import { keyIdOf, keyMaterialId, readTufPublicKey, type TufPublicKey } from '../crypto/public-key.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { StorageError } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import { WitnessError } from './errors.js';
import type { RequestRate } from './request-auth.js';
import type { UpstreamTrust } from './upstream-check.js';
import { WIRE_LIMITS } from './wire.js';

export const WITNESS_FILES = { config: 'witness.json', key: 'witness-key.json', db: 'state.db', lock: 'witness.lock' } as const;
export const WITNESS_CONFIG_FORMAT = 'cairn/witness/v1';

export interface WitnessConfig {
  format: typeof WITNESS_CONFIG_FORMAT;
  name: string;
  address: string;
  /** Largest distance between a block's time and this witness's clock, in seconds. */
  clockSkewSeconds: number;
  /** Largest request body accepted, in bytes. */
  maxRequestBytes: number;
  /** The one chain this witness serves; absent only in directories made before it was required. */
  chain?: ChainPin;
  /** Each roster member's request rate, when not REQUEST_AUTH_LIMITS's (docs/witness.md "Who may lead"). */
  rate?: RequestRate;
  /** Its own trust for imported sources (docs/upstream.md "Witnesses check the upstream"); absent: the defaults. */
  upstream?: UpstreamTrust;
}

/**
 * The chain a witness serves, as its operator names it: the genesis block's hash (a witness
 * joining a running log), or the root keys of which `threshold` must authorize the genesis
 * roster (a witness of a log yet to be created, whose genesis names this witness).
 */
export type ChainPin = { genesis: string } | { rootKeys: TufPublicKey[]; threshold: number };

/** The root role a root-key pin stands for (key IDs as TUF computes them). */
export function pinnedRootRole(pin: { rootKeys: readonly TufPublicKey[]; threshold: number }): { keys: Record<string, TufPublicKey>; threshold: number } {
  return { keys: Object.fromEntries(pin.rootKeys.map((k) => [keyIdOf(k), k])), threshold: pin.threshold };
}

function checkChainPin(pin: ChainPin): ChainPin {
  if ('genesis' in pin) {
    if (!/^[0-9a-f]{64}$/.test(pin.genesis)) throw new WitnessError('BAD_CONFIG', `a genesis hash is 64 lowercase hex digits, found ${JSON.stringify(pin.genesis.slice(0, 80))}`);
    return pin;
  }
  const distinct = new Set(pin.rootKeys.map(keyMaterialId)).size;
  if (distinct === 0 || distinct !== pin.rootKeys.length) throw new WitnessError('BAD_CONFIG', `the root keys must be distinct and at least one, found ${pin.rootKeys.length} (${distinct} distinct)`);
  if (!Number.isSafeInteger(pin.threshold) || pin.threshold < 1 || pin.threshold > distinct) {
    throw new WitnessError('BAD_CONFIG', `the root threshold must be from 1 to the ${distinct} root keys, found ${pin.threshold}`);
  }
  return pin;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A configuration is a few short fields and at most 256 pinned root keys (TUF key objects). */
const CONFIG_LIMITS = { maxBytes: 256 * 1024, maxDepth: 8, maxEntries: 4096 };

function checkAddress(address: string): string {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new WitnessError('BAD_CONFIG', `address ${JSON.stringify(address)} is not a URL`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || address.length > 512) {
    throw new WitnessError('BAD_CONFIG', `address must be an http(s) URL of at most 512 characters, found ${address.slice(0, 80)}`);
  }
  return address;
}

function rosterEntry(config: WitnessConfig, key: WitnessKey): RosterWitness {
  return { name: config.name, key: key.publicKeyHex, pop: Buffer.from(createProofOfPossession(key)).toString('hex'), address: config.address };
}

/** Creates DIR with a fresh witness key and its configuration; returns its roster entry. */
export async function initWitness(dir: string, options: { name: string; address: string; chain: ChainPin; clockSkewSeconds?: number; maxRequestBytes?: number; rate?: RequestRate; upstream?: UpstreamTrust }): Promise<{ config: WitnessConfig; entry: RosterWitness }> {
  if (!NAME.test(options.name)) throw new WitnessError('BAD_CONFIG', `witness name must be 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit, found ${JSON.stringify(options.name)}`);
  checkAddress(options.address);
  checkChainPin(options.chain);
  const exists = await stat(join(dir, WITNESS_FILES.config)).then(() => true, () => false);
  if (exists) throw new WitnessError('BAD_CONFIG', `${dir} already holds a witness`, { hint: 'a witness key is never replaced in place: use another directory' });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  await writeKeyFile(join(dir, WITNESS_FILES.key), privateKey);
  const config: WitnessConfig = {
    format: WITNESS_CONFIG_FORMAT,
    name: options.name,
    address: options.address,
    clockSkewSeconds: options.clockSkewSeconds ?? 300,
    maxRequestBytes: options.maxRequestBytes ?? WIRE_LIMITS.maxRequestBytes,
    chain: options.chain,
    ...(options.rate ? { rate: options.rate } : {}),
    ...(options.upstream && Object.keys(options.upstream).length > 0 ? { upstream: options.upstream } : {}),
  };
  await writeFileAtomic(join(dir, WITNESS_FILES.config), JSON.stringify(config, null, 2) + '\n');
  const { key } = await loadWitness(dir);
  return { config, entry: rosterEntry(config, key) };
}

/** Reads DIR's configuration and witness key. */
export async function loadWitness(dir: string): Promise<{ config: WitnessConfig; key: WitnessKey; entry: RosterWitness; dbPath: string }> {
  const path = join(dir, WITNESS_FILES.config);
  let bytes: Buffer;
  try {
    bytes = await readCappedFile(path, CONFIG_LIMITS.maxBytes, { refuse: tooLargeIsFormatError });
  } catch (e) {
    if (!(e instanceof StorageError && e.code === 'NOT_FOUND')) throw e;
    throw new WitnessError('BAD_CONFIG', `${dir} holds no witness (${WITNESS_FILES.config} is missing)`, { cause: e, hint: `create one with: cairn witness init --dir ${dir} --name NAME --address URL` });
  }
  const o = parseJsonObject(bytes, path, CONFIG_LIMITS);
  if (o.format !== WITNESS_CONFIG_FORMAT) throw new WitnessError('BAD_CONFIG', `${path} is not a ${WITNESS_CONFIG_FORMAT} configuration`);
  const r = new FieldReader((message) => new WitnessError('BAD_CONFIG', message), path);
  const clockSkewSeconds = o.clockSkewSeconds;
  if (typeof clockSkewSeconds !== 'number' || !(clockSkewSeconds > 0) || !Number.isFinite(clockSkewSeconds)) throw r.fail(`clockSkewSeconds must be a positive number of seconds, found ${JSON.stringify(clockSkewSeconds)}`);
  const config: WitnessConfig = {
    format: WITNESS_CONFIG_FORMAT,
    name: r.string(o.name, 'name', 64, { pattern: NAME, expected: '1-64 characters of [A-Za-z0-9._-] starting with a letter or digit' }),
    address: checkAddress(r.string(o.address, 'address', 512)),
    clockSkewSeconds,
    maxRequestBytes: r.integer(o.maxRequestBytes, 'maxRequestBytes', 1024),
    ...(o.chain === undefined ? {} : { chain: readChainPin(r, o.chain) }),
    ...(o.rate === undefined ? {} : { rate: readRate(r, o.rate) }),
    ...(o.upstream === undefined ? {} : { upstream: readUpstreamTrust(r, o.upstream) }),
  };
  const key = await loadWitnessKey(join(dir, WITNESS_FILES.key));
  return { config, key, entry: rosterEntry(config, key), dbPath: join(dir, WITNESS_FILES.db) };
}

function readRate(r: FieldReader, value: unknown): RequestRate {
  const o = r.exact(value, 'rate', ['burst', 'perSecond']);
  return { burst: r.integer(o.burst, 'rate.burst', 1, 1_000_000), perSecond: r.integer(o.perSecond, 'rate.perSecond', 1, 1_000_000) };
}

function readUpstreamTrust(r: FieldReader, value: unknown): UpstreamTrust {
  const o = r.exact(value, 'upstream', [], ['aptDir', 'origin', 'npmRegistry']);
  return {
    ...(o.aptDir === undefined ? {} : { aptDir: r.string(o.aptDir, 'upstream.aptDir', 4096, { min: 1 }) }),
    ...(o.origin === undefined ? {} : { origin: r.string(o.origin, 'upstream.origin', 100, { min: 1 }) }),
    ...(o.npmRegistry === undefined ? {} : { npmRegistry: r.string(o.npmRegistry, 'upstream.npmRegistry', 2048, { min: 1 }) }),
  };
}

function readChainPin(r: FieldReader, value: unknown): ChainPin {
  const o = r.object(value, 'chain');
  if (o.genesis !== undefined) return checkChainPin({ genesis: r.hex(r.exact(o, 'chain', ['genesis']).genesis, 'chain.genesis') });
  const pin = r.exact(o, 'chain', ['rootKeys', 'threshold']);
  return checkChainPin({
    rootKeys: r.array(pin.rootKeys, 'chain.rootKeys', 256, 1).map((k, i) => readTufPublicKey(r, k, `chain.rootKeys[${i}]`)),
    threshold: r.integer(pin.threshold, 'chain.threshold', 1),
  });
}

/**
 * A witness key file (`DIR/witness-key.json`, a plain cairn/private-key/v1 Ed25519 key): the
 * witness's own, or the one a leader signs its requests with (`--leader-key`).
 */
export async function loadWitnessKey(path: string): Promise<WitnessKey> {
  const file = await readKeyFileHeader(path);
  if (file.encryption) throw new WitnessError('BAD_CONFIG', `${path} is encrypted; a witness key is a plain key file (mode 0600), as a witness runs unattended`);
  const jwk = createPrivateKey({ key: Buffer.from(file.private, 'base64'), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string') throw new WitnessError('BAD_CONFIG', `${path} is not an Ed25519 key`);
  const seed = Buffer.from(jwk.d, 'base64url');
  const key = witnessKeyFromSeed(seed);
  seed.fill(0);
  return key;
}
