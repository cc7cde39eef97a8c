package opcert

import "errors"

// Errors that callers branch on; test with errors.Is.
var (
	// ErrBadSignature: the cold key's signature over the 48-byte signable
	// does not verify (InvalidSignatureOCERT). Certs made before July 2020
	// signed another message and fail here.
	ErrBadSignature = errors.New("op cert signature does not verify")
	// ErrWrongColdKey: the cert was issued by another pool's cold key.
	ErrWrongColdKey = errors.New("op cert is for another cold key")
	// ErrKESBeforeStart: the current KES period is before the cert's start
	// (KESBeforeStartOCERT).
	ErrKESBeforeStart = errors.New("KES period is before the op cert's start")
	// ErrKESAfterEnd: the cert has expired (KESAfterEndOCERT).
	ErrKESAfterEnd = errors.New("op cert has expired")
	// ErrCounterTooSmall: n < m (CounterTooSmallOCERT).
	ErrCounterTooSmall = errors.New("op cert counter is below the on-chain counter")
	// ErrCounterOverIncremented: n > m + 1 (CounterOverIncrementedOCERT).
	ErrCounterOverIncremented = errors.New("op cert counter is more than one above the on-chain counter")
	// ErrOnChainAhead: the chain has seen a counter above every cert this
	// vault issued: another copy of the cold key is issuing certs.
	ErrOnChainAhead = errors.New("on-chain counter is ahead of every cert this vault issued")
	// ErrOnChainBackwards: the chain counter offered is lower than one
	// already seen: the chain information is stale or forged.
	ErrOnChainBackwards = errors.New("on-chain counter went backwards")
	// ErrCounterExhausted: the next cert number would be 2^64-1 or more,
	// after which the counter file (the number after the last) cannot
	// count.
	ErrCounterExhausted = errors.New("op cert counter is exhausted")
	// ErrBeforeSystemStart: a time or slot before the network existed.
	ErrBeforeSystemStart = errors.New("time is before the network's system start")
	// ErrUnknownNetwork: a network name other than mainnet, preprod, preview.
	ErrUnknownNetwork = errors.New("unknown network")
	// ErrGenesis: a shelley genesis file lacks or has bad KES parameters.
	ErrGenesis = errors.New("bad shelley genesis")
	// ErrEncoding: the cert's CBOR is not the layout cardano-cli writes.
	ErrEncoding = errors.New("bad op cert encoding")
	// ErrOnChainText: an on-chain counter's text form is not "none" or a
	// decimal number.
	ErrOnChainText = errors.New("bad on-chain counter")
)
