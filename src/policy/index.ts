// policy/index.ts: the release policy witnesses enforce (DESIGN.md "What a witness checks").
export { PolicyError } from './errors.js';
export {
  checkGenesisState, checkSuccessorState, checkPayloadMatches, checkClockSkew, digestOf,
  type ReleaseState, type ReleaseDocuments, type StateDigest,
} from './release-state.js';
