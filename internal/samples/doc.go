// Package samples generates realistic, varied Braze Currents events for tests,
// the demo and benchmarks.
//
// The examples of the data contract (package spec) are placeholders: every id
// is the same UUID and strings repeat their field name, which is fine for
// checking a shape and useless for deduplication, identity or load tests. This
// package builds events from the contract's Avro schemas instead, so that
// every one of the 96 storage event types is covered without hand-listing
// their fields, and fills each field with a value that looks like what Braze
// sends: fresh UUIDs, 24-hex Braze user ids, E.164 phone numbers, IANA time
// zones, human campaign names (some with quotes, backslashes, newlines, emoji
// and non-ASCII text, so that encoders are exercised), and a realistic share
// of null fields and anonymous users.
//
// Everything is derived from a seed, so a test, a benchmark or the bundled
// quickstart data is reproducible byte for byte.
//
// # Bundled quickstart data
//
// testdata/sample at the root of the module holds data made by this package:
// currents-http-batches.jsonl (200 events of the 90 HTTP event types, as
// {"events":[...]} POST bodies of 20 events) and storage/ (a storage export
// tree of three events for each of the 96 types, Avro with the null codec,
// the two legacy Abort types included). The go:generate line below rewrites
// them byte for byte (run `go generate ./internal/samples` from the module
// root; delete testdata/sample/storage first if you change the flags, since
// file names change with them). The test of cmd/gensamples reads the line and
// checks that the committed files still match it.
//
// For other data, run the command directly, for example a million events for
// a benchmark:
//
//	go run ./internal/samples/cmd/gensamples -n 1000000 -shape batch -seed 7 -out /tmp/currents.jsonl
package samples

//go:generate go run ./cmd/gensamples -seed 20261128 -n 200 -shape batch -batch 20 -out ../../testdata/sample/currents-http-batches.jsonl -avro-dir ../../testdata/sample/storage -per-type 3 -start 2026-11-28T13:00:00Z -compression null
