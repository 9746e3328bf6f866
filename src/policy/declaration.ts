// policy/declaration.ts: release declarations (docs/verified-builds.md section 1: each artifact's
// custom metadata names its source, location and sha256, and its recipe: builder environment
// identity, command, output path, SOURCE_DATE_EPOCH). Publishers write them (`cairn build`,
// `cairn repo add --declaration`), rebuilders read them to rebuild, witnesses read them to know
// which artifacts need attestations. The declaration lives in the TUF target's `custom` object:
//
//   "custom": {
//     "source": { "uri": "https://example.org/hello-1.0.src.tar", "sha256": "<64 hex>" },
//     "recipe": { "builder": "debian-12/gcc-12", "command": "make", "output": "hello",
//                 "sourceDateEpoch": 1700000000 },
//     "upstream": { "uri": "https://example.org/imports/hello_1.0-1/", "sha256": "<64 hex>" },
//     ...any other custom fields of the publisher...
//   }
//
// `upstream` is optional: the source is an upstream release imported by `cairn import`, and
// `uri` is the directory that import wrote (published by the publisher), `sha256` the digest
// of its provenance.json (docs/upstream.md "Witnesses check the upstream"). A witness fetches
// it, verifies the recorded chain again and refuses the block unless the declared source is
// the upstream file that chain proves.
//
// The source is a tar archive (plain ustar, as `cairn build` writes it: sorted entries, mtime
// SOURCE_DATE_EPOCH, uid/gid 0). The recipe's command runs with /bin/sh -c in the root of the
// extracted archive; `output` is the path of the artifact relative to that root afterwards.
// A declaration file (what `cairn build` writes) adds the format tag, the target path and the
// artifact's digest and length, so that `cairn repo add --declaration` can check it is adding
// the file the declaration was made for.
import type { JsonObject, JsonValue } from '../encoding/canonical-json.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { DeclarationError } from './build-errors.js';

export const DECLARATION_FORMAT = 'cairn/release-declaration/v1';

/** Caps on declaration fields: they are read from targets metadata that anyone may publish. */
export const DECLARATION_LIMITS = {
  /** Source URI length (a URL, not a document). */
  maxUriChars: 2048,
  /** Builder identity, e.g. "debian-12/gcc-12" or a sha256 of an image. */
  maxBuilderChars: 256,
  /** Build command: one shell line; recipes that need more ship a script in the source. */
  maxCommandChars: 4096,
  /** Output path inside the source tree. */
  maxOutputChars: 1024,
  /** A declaration file is small; 64 KiB leaves room for long commands. */
  maxFileBytes: 64 * 1024,
} as const;

/** Largest SOURCE_DATE_EPOCH accepted: 9999-12-31T23:59:59Z (tar and most tools cap near it). */
const MAX_EPOCH = 253_402_300_799;

export interface SourceDeclaration {
  /** Where the source archive is fetched from: file:, http: or https:. */
  readonly uri: string;
  /** SHA-256 of the source archive, lowercase hex. */
  readonly sha256: string;
}

export interface BuildRecipe {
  /** Identity of the build environment (distribution/toolchain, or an image digest). */
  readonly builder: string;
  /** Shell command run with /bin/sh -c at the root of the extracted source. */
  readonly command: string;
  /** Path of the artifact relative to the source root after the command ran. */
  readonly output: string;
  /** SOURCE_DATE_EPOCH exported to the build (reproducible-builds.org). */
  readonly sourceDateEpoch: number;
}

/** Where the import a source came from is published: its directory and its provenance.json's SHA-256. */
export interface UpstreamDeclaration {
  /** The import directory's URL (ends with "/"): provenance.json and the files it records are under it. */
  readonly uri: string;
  /** SHA-256 of that directory's provenance.json, lowercase hex. */
  readonly sha256: string;
}

export interface ReleaseDeclaration {
  readonly source: SourceDeclaration;
  readonly recipe: BuildRecipe;
  /** The import the source is the upstream file of; absent for a source not imported. */
  readonly upstream?: UpstreamDeclaration;
}

/** What `cairn build` writes beside an artifact. */
export interface DeclarationFile extends ReleaseDeclaration {
  readonly format: typeof DECLARATION_FORMAT;
  /** Target path the artifact is meant to be published under. */
  readonly target: string;
  readonly artifact: { readonly sha256: string; readonly length: number };
}

/** Reads declarations; every malformed field is BAD_DECLARATION (field names carry the document's name). */
const reader = new FieldReader((message) => new DeclarationError('BAD_DECLARATION', message));

/** True when `custom` carries a declaration (either field present; a partial one is an error). */
function hasDeclaration(custom: JsonObject | undefined): boolean {
  return custom !== undefined && (custom.source !== undefined || custom.recipe !== undefined);
}

/**
 * The declaration in a target's custom metadata, or undefined when it has none (an artifact
 * without declaration is not rebuilt; whether that is allowed is the witness policy's call).
 * Throws DeclarationError('BAD_DECLARATION') when one is present but malformed.
 */
export function declarationFromCustom(custom: JsonObject | undefined, what = 'custom metadata'): ReleaseDeclaration | undefined {
  if (!hasDeclaration(custom)) return undefined;
  return parseReleaseDeclaration(custom!, what);
}

/** Parses `{source, recipe}` out of a JSON object (other fields are ignored). */
export function parseReleaseDeclaration(value: JsonValue, what: string): ReleaseDeclaration {
  const o = reader.object(value, what);
  const source = reader.object(o.source, `${what}.source`);
  const recipe = reader.object(o.recipe, `${what}.recipe`);
  const upstream = o.upstream === undefined ? undefined : reader.exact(o.upstream, `${what}.upstream`, ['uri', 'sha256']);
  return {
    source: {
      uri: checkUri(text(source.uri, `${what}.source.uri`, DECLARATION_LIMITS.maxUriChars), `${what}.source.uri`),
      sha256: reader.hex(source.sha256, `${what}.source.sha256`),
    },
    recipe: {
      builder: text(recipe.builder, `${what}.recipe.builder`, DECLARATION_LIMITS.maxBuilderChars),
      command: text(recipe.command, `${what}.recipe.command`, DECLARATION_LIMITS.maxCommandChars),
      output: checkOutputPath(text(recipe.output, `${what}.recipe.output`, DECLARATION_LIMITS.maxOutputChars), `${what}.recipe.output`),
      sourceDateEpoch: reader.integer(recipe.sourceDateEpoch, `${what}.recipe.sourceDateEpoch`, 0, MAX_EPOCH),
    },
    ...(upstream === undefined ? {} : {
      upstream: {
        uri: checkDirectoryUri(checkUri(text(upstream.uri, `${what}.upstream.uri`, DECLARATION_LIMITS.maxUriChars), `${what}.upstream.uri`), `${what}.upstream.uri`),
        sha256: reader.hex(upstream.sha256, `${what}.upstream.sha256`),
      },
    }),
  };
}

/** The custom-metadata form of a declaration, merged over `base` (other custom fields kept). */
export function declarationToCustom(declaration: ReleaseDeclaration, base: JsonObject = {}): JsonObject {
  const { source, recipe, upstream } = declaration;
  return {
    ...base,
    source: { uri: source.uri, sha256: source.sha256 },
    recipe: { builder: recipe.builder, command: recipe.command, output: recipe.output, sourceDateEpoch: recipe.sourceDateEpoch },
    ...(upstream === undefined ? {} : { upstream: { uri: upstream.uri, sha256: upstream.sha256 } }),
  };
}

/** Parses a declaration file (bounded). */
export function parseDeclarationFile(bytes: Uint8Array | string, what = 'declaration file'): DeclarationFile {
  const o = parseJsonObject(bytes, what, { maxBytes: DECLARATION_LIMITS.maxFileBytes, maxDepth: 8, maxEntries: 1000 });
  if (o.format !== DECLARATION_FORMAT) {
    throw new DeclarationError('BAD_DECLARATION', `${what}: expected format ${DECLARATION_FORMAT}, found ${JSON.stringify(o.format)}`, {
      hint: 'write declarations with `cairn build`',
    });
  }
  const declaration = parseReleaseDeclaration(o, what);
  const artifact = reader.object(o.artifact, `${what}.artifact`);
  const length = reader.integer(artifact.length, `${what}.artifact.length`);
  return {
    format: DECLARATION_FORMAT,
    target: text(o.target, `${what}.target`, DECLARATION_LIMITS.maxOutputChars),
    artifact: { sha256: reader.hex(artifact.sha256, `${what}.artifact.sha256`), length },
    ...declaration,
  };
}

/** The JSON of a declaration file, with a fixed key order (so two builds give identical bytes). */
export function declarationFileJson(file: Omit<DeclarationFile, 'format'>): string {
  const doc = {
    format: DECLARATION_FORMAT,
    target: file.target,
    artifact: { sha256: file.artifact.sha256, length: file.artifact.length },
    ...declarationToCustom(file),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** True when two declarations name the same source digest and the same recipe. */
export function sameDeclaration(a: ReleaseDeclaration, b: ReleaseDeclaration): boolean {
  return a.source.sha256 === b.source.sha256 && a.recipe.builder === b.recipe.builder && a.recipe.command === b.recipe.command
    && a.recipe.output === b.recipe.output && a.recipe.sourceDateEpoch === b.recipe.sourceDateEpoch;
}

/** A relative path with no empty, "." or ".." segment and no NUL (the output stays in the tree). */
export function checkOutputPath(path: string, what: string): string {
  const segments = path.split('/');
  if (path.startsWith('/') || path.includes('\0') || path.includes('\\') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new DeclarationError('BAD_DECLARATION', `${what} must be a relative path inside the source tree without "." or ".." segments, found ${JSON.stringify(path)}`);
  }
  return path;
}

/** An import directory's URL ends with "/" (the files it records are resolved under it). */
function checkDirectoryUri(uri: string, what: string): string {
  if (!uri.endsWith('/') || /[?#]/.test(uri)) throw new DeclarationError('BAD_DECLARATION', `${what} must be a directory URL ending with "/" and without query or fragment, found ${JSON.stringify(uri)}`);
  return uri;
}

function checkUri(uri: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    throw new DeclarationError('BAD_DECLARATION', `${what} is not a URL: ${JSON.stringify(uri)}`);
  }
  if (!['file:', 'http:', 'https:'].includes(parsed.protocol)) {
    throw new DeclarationError('BAD_DECLARATION', `${what} has scheme ${parsed.protocol}; expected file, http or https`);
  }
  return uri;
}

/** A non-empty string of at most `max` characters. */
function text(value: unknown, field: string, max: number): string {
  return reader.string(value, field, max, { min: 1 });
}
