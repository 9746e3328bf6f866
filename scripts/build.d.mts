// scripts/build.d.mts: types of scripts/build.mjs for the TypeScript tests and benchmarks that import it.
/** Runs tsc on tsconfig.build.json (incremental) and records the sources it compiled. */
export function build(): void;
/** Builds unless dist/ was built from the current sources; returns whether it built. */
export function buildIfStale(): boolean;
