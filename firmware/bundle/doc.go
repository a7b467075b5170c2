// Package bundle makes and checks Linli's signed firmware bundles.
//
// A bundle is a gzip'd tar archive holding, in this order:
//
//	manifest.json   the Manifest: product, version, security version, target,
//	                creation time, and the name, size, mode and sha256 of each file
//	manifest.sig    the Ed25519 signature of manifest.json's exact bytes, with
//	                the signing key's id
//	files/NAME      each file of the manifest, in manifest order
//
// Verify checks the signature against the provisioned root keys first, then
// the target and the security version, and only then reads the files,
// hashing each one; nothing is written outside the destination folder and a
// bundle that fails any check leaves nothing behind. Every refusal wraps one
// of the sentinel errors, so a maintenance worker sees why ("bad signature
// — possible attack", "older security version", …).
//
// Builds are reproducible: Create writes files in manifest order with fixed
// times, owners and modes, and a gzip header with no name and no time, so
// the same inputs (and Created time, taken from SOURCE_DATE_EPOCH by the
// release script) give byte-identical bundles.
//
// # Keys
//
// GenerateKey makes an Ed25519 key pair. Private keys are PKCS #8 PEM files
// that never enter the repository (the release script reads one from
// LINLI_SIGNING_KEY); public keys are PKIX PEM files, provisioned on each
// device as its root keys. A key's id is the first 8 bytes of the sha256 of
// the public key, in hex.
package bundle
