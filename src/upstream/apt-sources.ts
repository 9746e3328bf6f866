// upstream/apt-sources.ts: the Debian archives this machine's apt is configured with (sources.list(5):
// the one-line format of /etc/apt/sources.list and sources.list.d/*.list, the deb822 format of
// sources.list.d/*.sources), never an address of cairn's own. An import reads source packages, so
// it wants `deb-src` entries; where there are none it derives them from the `deb` entries (the
// same archive, suite and components: Debian publishes both indexes side by side). Each archive
// keeps the keyring apt checks it with: its Signed-By (key files, or a key block written inline
// in a .sources entry), else every key apt trusts (trusted.gpg.d and trusted.gpg).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PublicKey } from 'openpgp';
import { readKeyring } from './clearsigned.js';
import { parseDeb822 } from './deb822.js';
import { UpstreamError } from './errors.js';

/** One archive suite to read source packages from. */
export interface SourceArchive {
  /** The archive's base URI, without a trailing slash (http:, https: or file:). */
  uri: string;
  suite: string;
  components: string[];
  /** What apt checks its release file with: key files, or armored key text written in the entry. */
  keyring: { files: string[] } | { inline: string };
  /** Where the entry is: file and line or paragraph. */
  origin: string;
}

/** An entry of apt's configuration, either format. */
interface AptEntry {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  signedBy: string | undefined;
  enabled: boolean;
  origin: string;
}

/** Caps: apt's configuration is the machine's, but a file of it may be anything. */
const LIMITS = { maxFileBytes: 1 << 20, maxFiles: 256 } as const;

async function readSmall(path: string): Promise<string | undefined> {
  try {
    const bytes = await readFile(path);
    if (bytes.length > LIMITS.maxFileBytes) throw new UpstreamError('MALFORMED', `${path} is over ${LIMITS.maxFileBytes} bytes: not an apt sources file`);
    return bytes.toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The entries of a one-line-format file: `deb [ OPTIONS ] URI SUITE [COMPONENT...]`. */
function oneLineEntries(text: string, path: string): AptEntry[] {
  const entries: AptEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const origin = `${path} line ${index + 1}`;
    const options = /^(\S+)\s+\[([^\]]*)\]\s+(.*)$/.exec(line);
    const [type, optionText, rest] = options === null ? [line.split(/\s+/)[0]!, '', line.split(/\s+/).slice(1).join(' ')] : [options[1]!, options[2]!, options[3]!];
    const words = rest.split(/\s+/).filter((w) => w !== '');
    if (words.length < 2) throw new UpstreamError('MALFORMED', `${origin}: expected "${type} [OPTIONS] URI SUITE [COMPONENT...]", found ${JSON.stringify(line.slice(0, 120))}`);
    const option = (name: string): string | undefined => optionText.split(/\s+/).find((o) => o.toLowerCase().startsWith(`${name}=`))?.slice(name.length + 1);
    entries.push({ types: [type], uris: [words[0]!], suites: [words[1]!], components: words.slice(2), signedBy: option('signed-by'), enabled: true, origin });
  });
  return entries;
}

/** The entries of a deb822-format .sources file. */
function deb822Entries(text: string, path: string): AptEntry[] {
  return parseDeb822(text, path).map((p, index) => {
    const origin = `${path} entry ${index + 1}`;
    const words = (name: string): string[] => (p.get(name) ?? '').split(/\s+/).filter((w) => w !== '');
    return {
      types: words('Types'), uris: words('URIs'), suites: words('Suites'), components: words('Components'),
      signedBy: p.get('Signed-By'), enabled: (p.get('Enabled') ?? 'yes').toLowerCase() !== 'no', origin,
    };
  });
}

/** Every entry of apt's configuration under `etcApt` (default /etc/apt), in apt's order. */
async function aptEntries(etcApt: string): Promise<AptEntry[]> {
  const entries: AptEntry[] = [];
  const main = await readSmall(join(etcApt, 'sources.list'));
  if (main !== undefined) entries.push(...oneLineEntries(main, join(etcApt, 'sources.list')));
  const dir = join(etcApt, 'sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^[A-Za-z0-9_.-]+\.(list|sources)$/.test(n)).sort();
  if (names.length > LIMITS.maxFiles) throw new UpstreamError('MALFORMED', `${dir} holds over ${LIMITS.maxFiles} sources files`);
  for (const name of names) {
    const text = await readSmall(join(dir, name));
    if (text === undefined) continue;
    entries.push(...(name.endsWith('.list') ? oneLineEntries(text, join(dir, name)) : deb822Entries(text, join(dir, name))));
  }
  return entries;
}

/** The keyring of an entry: its Signed-By, or all that apt trusts. */
async function keyringOf(entry: AptEntry, etcApt: string): Promise<SourceArchive['keyring']> {
  const signedBy = entry.signedBy?.trim();
  if (signedBy !== undefined && signedBy !== '') {
    // An inline key: deb822 writes its blank lines as " ." (the first line, after "Signed-By:", is empty).
    if (signedBy.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) return { inline: signedBy.split('\n').map((l) => (l.trim() === '.' ? '' : l.trim())).join('\n').trim() };
    const files = signedBy.split(/[\s,]+/).filter((f) => f !== '');
    // A fingerprint instead of a file narrows the keys apt trusts; cairn does not follow that form.
    if (files.some((f) => !f.startsWith('/'))) throw new UpstreamError('NO_SOURCE', `${entry.origin}: Signed-By ${JSON.stringify(signedBy.slice(0, 120))} names a key by fingerprint; cairn reads only key files and inline keys`);
    return { files };
  }
  return trustedKeyring(etcApt, `${entry.origin}: no Signed-By, and`);
}

/** Every key file apt trusts for any archive (trusted.gpg.d and trusted.gpg). */
async function trustedKeyring(etcApt: string, context: string): Promise<{ files: string[] }> {
  const trusted = join(etcApt, 'trusted.gpg.d');
  const files = (await readdir(trusted).catch(() => [] as string[])).filter((n) => /\.(gpg|asc)$/.test(n)).sort().map((n) => join(trusted, n));
  const legacy = join(etcApt, 'trusted.gpg');
  if ((await readSmall(legacy)) !== undefined) files.push(legacy);
  if (files.length === 0) throw new UpstreamError('NO_SOURCE', `${context} no key in ${trusted} or ${legacy}: nothing to check the archive's signature with`);
  return { files };
}

/**
 * The archives to read source packages from: apt's enabled `deb-src` entries, or, when there are
 * none, its `deb` entries read as `deb-src`. NO_SOURCE when apt names none.
 */
export async function sourceArchives(options: { etcApt?: string } = {}): Promise<SourceArchive[]> {
  const etcApt = options.etcApt ?? '/etc/apt';
  const entries = (await aptEntries(etcApt)).filter((e) => e.enabled);
  const wanted = entries.some((e) => e.types.includes('deb-src')) ? 'deb-src' : 'deb';
  const archives: SourceArchive[] = [];
  for (const entry of entries.filter((e) => e.types.includes(wanted))) {
    // cdrom:, mirror+ and the like: not an archive cairn fetches from.
    const uris = entry.uris.filter((uri) => /^(https?|file):/.test(uri));
    if (uris.length === 0) continue;
    const keyring = await keyringOf(entry, etcApt);
    for (const uri of uris) {
      for (const suite of entry.suites) {
        if (suite.endsWith('/')) continue; // a flat repository has no dists/ and no source index of this form
        archives.push({ uri: uri.replace(/\/+$/, ''), suite, components: entry.components, keyring, origin: entry.origin });
      }
    }
  }
  if (archives.length === 0) throw new UpstreamError('NO_SOURCE', `apt's configuration in ${etcApt} names no http, https or file archive with ${wanted} entries`);
  return archives;
}

/** The public keys of the keyring apt checks `archive` with. */
export async function archiveKeys(archive: SourceArchive): Promise<PublicKey[]> {
  if ('inline' in archive.keyring) return readKeyring([{ bytes: Buffer.from(archive.keyring.inline), what: `the key written in ${archive.origin}` }]);
  const sources = [];
  for (const file of archive.keyring.files) {
    const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
      throw new UpstreamError('NO_SOURCE', `${archive.origin}: its keyring ${file} cannot be read (${e.code ?? e.message})`);
    });
    sources.push({ bytes, what: file });
  }
  return readKeyring(sources);
}

/** The keyring apt checks the archive at `uri` (suite `suite`) with: of its entry, else every key apt trusts. */
export async function keyringForArchive(uri: string, suite: string, options: { etcApt?: string } = {}): Promise<PublicKey[]> {
  const archives = await sourceArchives(options).catch(() => [] as SourceArchive[]);
  const entry = archives.find((a) => a.uri === uri && a.suite === suite);
  if (entry !== undefined) return archiveKeys(entry);
  const origin = `${uri} ${suite} (not in apt's sources: every key apt trusts)`;
  return archiveKeys({ uri, suite, components: [], origin, keyring: await trustedKeyring(options.etcApt ?? '/etc/apt', `${origin}:`) });
}
