package ur

import "errors"

var (
	// ErrInvalidScheme reports text that does not start with "ur:".
	ErrInvalidScheme = errors.New("ur: invalid scheme")
	// ErrInvalidType reports a UR type outside [a-z0-9-]+.
	ErrInvalidType = errors.New("ur: invalid type")
	// ErrInvalidPath reports a malformed path (components or "seqNum-seqLen").
	ErrInvalidPath = errors.New("ur: invalid path")
	// ErrInvalidBytewords reports an unknown byteword, a bad length or a
	// failed Bytewords CRC32.
	ErrInvalidBytewords = errors.New("ur: invalid bytewords")
	// ErrInvalidPart reports a multipart body that is not a well-formed part
	// [seqNum, seqLen, messageLen, checksum, fragment], or whose fields
	// contradict each other or the path.
	ErrInvalidPart = errors.New("ur: invalid part")
	// ErrForeignPart reports a part that belongs to another transfer: its type,
	// sequence length, message length, checksum or fragment length differs
	// from the parts received before. The decoder's state is left unchanged.
	ErrForeignPart = errors.New("ur: part belongs to another transfer")
	// ErrTooLarge reports a part announcing a message or sequence larger than
	// the decoder accepts.
	ErrTooLarge = errors.New("ur: message too large")
	// ErrMessageChecksum reports a reassembled message whose CRC32 does not
	// match the checksum carried by its parts.
	ErrMessageChecksum = errors.New("ur: message checksum mismatch")
	// ErrIncomplete reports a result asked for before enough parts arrived.
	ErrIncomplete = errors.New("ur: incomplete")
	// ErrInvalidPayload reports a UR payload that is not one CBOR byte string.
	ErrInvalidPayload = errors.New("ur: payload is not a cbor byte string")
	// ErrInvalidFragmentLen reports a maximum fragment length below 1.
	ErrInvalidFragmentLen = errors.New("ur: invalid fragment length")
)
