// witness/start.ts: one witness started from its directory, as `cairn witness serve` runs it
// (docs/witness.md "Run it: `cairn witness serve`"): its configuration and key (config.ts), its
// SQLite state (store.ts), what it decides (service.ts) and its HTTP API (http-api.ts), listening
// on the port of its configured address unless told another. The directory's state is held
// exclusively for the life of the process (lock.ts): a second process on it is refused with LOCKED.
import { loadWitness, type WitnessConfig } from './config.js';
import type { WitnessDecision } from './decisions.js';
import { startWitnessServer } from './http-api.js';
import { openWitnessStateExclusively } from './lock.js';
import { WitnessService } from './service.js';
import type { InfoAnswer } from './wire.js';

export interface StartWitnessOptions {
  /** Address to listen on; loopback by default. */
  host?: string;
  /** Port to listen on (0 picks a free one); default: the port of the configured address. */
  port?: number;
  /** Told of every decision, with the witness's name. */
  onDecision?: (decision: WitnessDecision, witness: string) => void;
}

export interface RunningWitness {
  config: WitnessConfig;
  url: string;
  /** What GET /v1/info answered when it started: key, chain followed, head. */
  info: InfoAnswer;
  /** Finishes the requests in flight, then closes the state. */
  close(): Promise<void>;
}

/** The port of a witness's configured address (80 when the URL names none). */
function configuredPort(address: string): number {
  return Number(new URL(address).port || '80');
}

/** Starts the witness of directory `dir`; resolves once it listens. */
export async function startWitness(dir: string, options: StartWitnessOptions = {}): Promise<RunningWitness> {
  const { config, key } = await loadWitness(dir);
  const state = await openWitnessStateExclusively(dir);
  try {
    const onDecision = options.onDecision;
    const service = new WitnessService({
      identity: { name: config.name, address: config.address, key },
      store: state.store,
      ...(config.chain ? { chain: config.chain } : {}),
      clockSkewSeconds: config.clockSkewSeconds,
      ...(config.upstream ? { upstream: config.upstream } : {}),
      ...(onDecision ? { onDecision: (d: WitnessDecision) => onDecision(d, config.name) } : {}),
    });
    const server = await startWitnessServer({ service, host: options.host ?? '127.0.0.1', port: options.port ?? configuredPort(config.address), maxRequestBytes: config.maxRequestBytes, ...(config.rate ? { rate: config.rate } : {}) });
    return {
      config,
      url: server.url,
      info: service.info(),
      close: async () => {
        await server.close();
        await state.close();
      },
    };
  } catch (e) {
    await state.close();
    throw e;
  }
}
