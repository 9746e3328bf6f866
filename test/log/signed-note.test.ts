// test/log/signed-note.test.ts: C2SP signed notes, checkpoints and Ed25519 cosignatures
// (src/log/signed-note.ts): round trips, and what a strict reader refuses (BAD_NOTE): text outside the format, control
// characters, a forged or moved signature, another key of the same name, a cosignature replayed
// on another checkpoint or at another time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateEd25519 } from '../../src/crypto/index.js';
import {
  checkpointText, cosignCheckpoint, formatNote, LogError, parseCheckpoint, parseNote, signNoteText, verifyCosignature, verifyNoteSignature, type NoteSignature,
} from '../../src/log/index.js';

const badNote = (fn: () => unknown, pattern: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof LogError && e.code === 'BAD_NOTE' && pattern.test(e.message), String(pattern));
};
const raw = (s: { signer: { publicKey: { keyval: { public: string } } } }): Buffer => Buffer.from(s.signer.publicKey.keyval.public, 'hex');

test('a checkpoint signed by a log and cosigned by two witnesses: formatted, read back, each signature verified', () => {
  const log = generateEd25519();
  const [w1, w2] = [generateEd25519(), generateEd25519()];
  const text = checkpointText({ origin: 'cairn.example/log', size: 20852163, rootHash: Buffer.alloc(32, 7), extensions: [] });
  assert.equal(text, `cairn.example/log\n20852163\n${Buffer.alloc(32, 7).toString('base64')}\n`);
  const signatures: NoteSignature[] = [signNoteText(text, 'cairn.example/log', log.signer), cosignCheckpoint(text, 'w1.example', w1.signer, 1_679_315_147), cosignCheckpoint(text, 'w2.example', w2.signer, 1_679_315_148)];
  const note = parseNote(formatNote({ text, signatures }));
  assert.equal(note.text, text);
  verifyNoteSignature(note, { name: 'cairn.example/log', publicKey: raw(log) });
  assert.equal(verifyCosignature(note, { name: 'w1.example', publicKey: raw(w1) }), 1_679_315_147);
  assert.equal(verifyCosignature(note, { name: 'w2.example', publicKey: raw(w2) }), 1_679_315_148);
  assert.deepEqual(parseCheckpoint(note.text), { origin: 'cairn.example/log', size: 20852163, rootHash: Buffer.alloc(32, 7), extensions: [] });

  // A stranger's key under a witness's name, a cosignature moved to another checkpoint or another time: refused.
  badNote(() => verifyCosignature(note, { name: 'w1.example', publicKey: raw(generateEd25519()) }), /carries no cosignature by w1\.example/);
  const other = checkpointText({ origin: 'cairn.example/log', size: 20852164, rootHash: Buffer.alloc(32, 8), extensions: [] });
  const moved = parseNote(formatNote({ text: other, signatures: [signatures[1]!] }));
  badNote(() => verifyCosignature(moved, { name: 'w1.example', publicKey: raw(w1) }), /does not verify/);
  const retimed = { ...signatures[1]!, signature: Buffer.from(signatures[1]!.signature) };
  retimed.signature.writeBigUInt64BE(1_679_315_999n, 0);
  badNote(() => verifyCosignature(parseNote(formatNote({ text, signatures: [retimed] })), { name: 'w1.example', publicKey: raw(w1) }), /does not verify/);
  // The log's signature forged by a byte: refused (the line matching the key decides, as Go's note.Open does).
  const forged = { ...signatures[0]!, signature: Buffer.from(signatures[0]!.signature) };
  forged.signature[0] = forged.signature[0]! ^ 1;
  badNote(() => verifyNoteSignature(parseNote(formatNote({ text, signatures: [forged, signatures[0]!] })), { name: 'cairn.example/log', publicKey: raw(log) }), /does not verify/);
  badNote(() => verifyNoteSignature(moved, { name: 'cairn.example/log', publicKey: raw(log) }), /carries no signature by cairn\.example\/log/);
});

test('a strict reader refuses what is not a signed note or a checkpoint', () => {
  const log = generateEd25519();
  const text = checkpointText({ origin: 'o', size: 1, rootHash: Buffer.alloc(32), extensions: ['ext one'] });
  const good = formatNote({ text, signatures: [signNoteText(text, 'o', log.signer)] });
  parseNote(good);
  badNote(() => parseNote(good.replace('\n\n', '\n')), /no blank line/);
  badNote(() => parseNote(good.slice(0, -1)), /does not end with a newline/);
  badNote(() => parseNote(good.replace('\u2014 ', '-- ')), /is not "— NAME BASE64"/);
  badNote(() => parseNote(good.replace('ext one', 'ext\u0001one')), /no control characters/);
  badNote(() => parseNote(Buffer.concat([Buffer.from(good), Buffer.from([0xff, 0x0a])])), /not UTF-8/);
  badNote(() => parseNote(good.replace(/ ([A-Za-z0-9+/]+=*)\n$/, ' $1x\n')), /not a key ID and a signature in base64|is not "— NAME BASE64"/);
  badNote(() => parseNote(`${text}\n${'\u2014 o AAAAAAAA\n'.repeat(101)}`), /101 signatures, at most 100/);
  badNote(() => parseCheckpoint('o\n01\nAAAA\n'), /not a decimal tree size/);
  badNote(() => parseCheckpoint(`o\n1\n${Buffer.alloc(31).toString('base64')}\n`), /not 32 bytes in base64/);
  badNote(() => parseCheckpoint('o\n1\n'), /a checkpoint has origin, size and root hash/);
  badNote(() => signNoteText('two\n\nparagraphs\n', 'o', log.signer), /no blank line/);
  // A byte-order mark stays in the text (the signature is over the bytes given: it no longer verifies), as with Go's note.Open.
  badNote(() => verifyNoteSignature(parseNote(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(good)])), { name: 'o', publicKey: raw(log) }), /does not verify/);
  // A name with a space as Go's unicode.IsSpace has it (U+0085 is one; JavaScript's \s says no).
  badNote(() => parseNote(good.replace('\u2014 o ', '\u2014 o\u0085x ')), /without spaces or "\+"/);
});
