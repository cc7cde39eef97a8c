// Package ur implements BlockchainCommons Uniform Resources (BCR-2020-005)
// with Bytewords (BCR-2020-012) and the fountain-coded multipart form used to
// move messages that do not fit one QR code through a sequence of frames.
//
// The implementation follows the reference C++ library bc-ur: the same CRC32,
// Xoshiro256** generator seeded from SHA-256, alias-method sampler, shuffle
// and fragment choice, so the parts it writes are byte-identical to those of
// the reference and of compatible implementations, and it reads theirs.
//
// The UR payload is the CBOR byte string of the message. Encoders produce
// lowercase text, the canonical form; QR codes should carry the uppercase form
// (see [ToUpper]) so that the QR alphanumeric mode is used. Decoders accept
// either case.
package ur
