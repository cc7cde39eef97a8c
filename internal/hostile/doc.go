// Package hostile holds only tests: malformed and hostile inputs fed to both
// binaries' command lines in-process, each of which must be answered by one
// error line and leave the disk as it was, and the redaction of every secret
// type when formatted.
package hostile
