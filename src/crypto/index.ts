// crypto/index.ts: the public API of cairn's cryptography (docs/design.md "Only current
// cryptography"): Ed25519 signers and key files (the only keys cairn creates), TUF public keys
// and signature verification (also ECDSA and RSA of third-party repositories), SHA-256/512.
export { KeyError } from './errors.js';
export { sha256Hex, hashFile, type HashAlgorithm } from './hash.js';
export { KEY_FILE_FORMAT, writeKeyFile, readKeyFileHeader, loadSigner, type KeyFile } from './key-file.js';
export { distinctValidSigners, keyIdOf, keyMaterialId, ed25519PublicKey, verifySignature, type TufPublicKey } from './public-key.js';
export { ed25519Signer, generateEd25519, type Signer } from './signer.js';
export { SIGNATURE_FORMAT, signDetached, parseDetachedSignature, readDetachedSignatureFiles, writeDetachedSignatureFile, type DetachedSignature } from './detached-signature.js';
