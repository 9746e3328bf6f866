// upstream/deb822.ts: Debian's control-file format (deb822: Debian Policy 5.1, "Syntax of control
// files"), read strictly from untrusted bytes: Release files, Sources indexes, .dsc files and
// apt's .sources entries. A file is paragraphs separated by blank lines; a paragraph is fields
// `Name: value`, a value continued on lines starting with a space or tab. Field names are
// case-insensitive (kept here as first written, looked up case-insensitively); a field twice in
// one paragraph, a line that is neither a field nor a continuation, or a paragraph over its cap is
// MALFORMED, naming the line.
import { UpstreamError } from './errors.js';

/** One paragraph: its fields in order, values with continuation lines joined by "\n". */
export class Paragraph {
  private readonly byName = new Map<string, string>();

  constructor(readonly fields: ReadonlyArray<readonly [string, string]>) {
    for (const [name, value] of fields) this.byName.set(name.toLowerCase(), value);
  }

  /** The field's value, or undefined when absent. */
  get(name: string): string | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** The field's value; MALFORMED naming `what` when absent or empty. */
  require(name: string, what: string): string {
    const value = this.get(name);
    if (value === undefined || value.trim() === '') throw new UpstreamError('MALFORMED', `${what} has no ${name} field`);
    return value;
  }
}

export interface Deb822Limits {
  /** Most paragraphs read (a Sources index of a whole archive has about 40,000). */
  maxParagraphs: number;
  /** Most fields in one paragraph. */
  maxFields: number;
}

const DEFAULT_LIMITS: Deb822Limits = { maxParagraphs: 200_000, maxFields: 200 };

/** A field's first line: a name of printable ASCII without colon or space, not starting with '#' or '-'. */
const FIELD_LINE = /^([!-9;-~][!-9;-~]*):(.*)$/;

/** Each paragraph of `text` (a file read as UTF-8), in order; `what` names the file in messages. */
export function parseDeb822(text: string, what: string, limits: Partial<Deb822Limits> = {}): Paragraph[] {
  const { maxParagraphs, maxFields } = { ...DEFAULT_LIMITS, ...limits };
  const paragraphs: Paragraph[] = [];
  let fields: Array<[string, string]> = [];
  let seen = new Set<string>();
  const close = (): void => {
    if (fields.length === 0) return;
    if (paragraphs.length >= maxParagraphs) throw new UpstreamError('MALFORMED', `${what} has over ${maxParagraphs} paragraphs`);
    paragraphs.push(new Paragraph(fields));
    fields = [];
    seen = new Set();
  };
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, index) => {
    const where = `${what} line ${index + 1}`;
    if (line.trim() === '') return close();
    if (line.startsWith('#')) return; // comments (apt's .sources allows them; no archive file has them)
    if (line.startsWith(' ') || line.startsWith('\t')) {
      const last = fields.at(-1);
      if (last === undefined) throw new UpstreamError('MALFORMED', `${where}: a continuation line with no field before it`);
      last[1] += '\n' + line.slice(1);
      return;
    }
    const field = FIELD_LINE.exec(line);
    if (field === null) throw new UpstreamError('MALFORMED', `${where}: expected "Name: value", found ${JSON.stringify(line.slice(0, 80))}`);
    const name = field[1]!;
    if (seen.has(name.toLowerCase())) throw new UpstreamError('MALFORMED', `${where}: the field ${name} twice in one paragraph`);
    if (fields.length >= maxFields) throw new UpstreamError('MALFORMED', `${where}: over ${maxFields} fields in one paragraph`);
    seen.add(name.toLowerCase());
    fields.push([name, field[2]!.trim()]);
  });
  close();
  return paragraphs;
}

/** One line of a checksum field (`Checksums-Sha256`, a Release file's `SHA256`): digest, size, name. */
export interface ChecksumLine {
  sha256: string;
  size: number;
  name: string;
}

/** The lines of a SHA-256 checksum field's value (its first, empty line left out); MALFORMED naming `what` for any other line. */
export function checksumLines(value: string, what: string): ChecksumLine[] {
  return value.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((line) => {
    const parts = /^([0-9a-f]{64})\s+([0-9]{1,15})\s+(\S+)$/.exec(line);
    if (parts === null) throw new UpstreamError('MALFORMED', `${what}: expected "SHA256 SIZE NAME", found ${JSON.stringify(line.slice(0, 120))}`);
    return { sha256: parts[1]!, size: Number(parts[2]), name: parts[3]! };
  });
}
