// Package depcheck holds only tests. They guard what the binaries link and
// what the repository tracks: the cold binary must not be able to reach a
// network, start another program (its symbol table is read) or open a USB
// or HID device, nor link a test double; library packages stay free of the
// command-line framework; and no signing key is committed outside the
// test-data folders.
package depcheck
