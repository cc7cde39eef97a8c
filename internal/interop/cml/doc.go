// Package cml checks kesrotate's operational certificates against an
// independent Cardano implementation, dcSpark's cardano-multiplatform-lib
// (npm @dcspark/cardano-multiplatform-lib-nodejs, pinned in package-lock.json).
// It holds only a test and the node script opcert.js; install the npm package
// with setup.sh.
package cml
