package keys

import "filippo.io/edwards25519"

func edwardsBase(s *edwards25519.Scalar) []byte {
	return new(edwards25519.Point).ScalarBaseMult(s).Bytes()
}
