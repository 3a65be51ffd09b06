package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/currents-segment/currents-segment/internal/contract"
	"github.com/currents-segment/currents-segment/internal/samples"
	"github.com/currents-segment/currents-segment/internal/spec"
)

// writeExport writes real Avro object container files of varied generated
// events for every type, in Braze's storage layout, and returns the expected
// Segment call of each event by messageId, computed from events.json.
func writeExport(t *testing.T, dir string, perType int) (expected map[string]map[string]any, skipped int) {
	t.Helper()
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	g := samples.New(20261128)
	expected = map[string]map[string]any{}
	for i, typ := range spec.AvroTypes() {
		records := make([]map[string]any, perType)
		for j := range records {
			records[j] = g.Record(typ)
			// The generator's floats are quarters, exact in an Avro float;
			// values a person types are not: the file holds the nearest
			// float32 (3.14 reads back as 3.140000104904175), and the call
			// must say 3.14 again, with either marshaler.
			for _, f := range events[typ].Fields {
				if f.AvroType == "float" && j < len(personFloats) {
					records[j][f.Name] = personFloats[j]
				}
			}
		}
		folder := filepath.Join(dir, "currents", "dataexport.prod-01.S3.integration.test", "event_type="+typ, "date=2026-11-28-13")
		if err := os.MkdirAll(folder, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(folder, fmt.Sprintf("%04d.avro", i)))
		if err != nil {
			t.Fatal(err)
		}
		opts := []samples.OCFOption{}
		if i%2 == 0 {
			opts = append(opts, samples.WithCompression("deflate"))
		}
		if err := samples.WriteOCF(f, typ, records, opts...); err != nil {
			t.Fatal(err)
		}
		f.Close()
		for _, rec := range records {
			// What the file holds: an Avro float is the float32 nearest
			// the record's value, as a storage record decodes it.
			stored := map[string]any{}
			for k, v := range rec {
				stored[k] = v
			}
			for _, f := range events[typ].Fields {
				if v, ok := rec[f.Name].(float64); ok && f.AvroType == "float" {
					stored[f.Name] = float64(float32(v))
				}
			}
			// Through encoding/json, so numbers compare as the output decodes.
			raw, _ := json.Marshal(stored)
			flat, err := contract.Flatten(raw)
			if err != nil {
				t.Fatal(err)
			}
			if (flat["user_id"] == nil || flat["user_id"] == "") && (flat["external_user_id"] == nil || flat["external_user_id"] == "") {
				skipped++ // no identity at all: Segment would drop it, so do we (counted)
				continue
			}
			call, err := contract.ExpectedCall(typ, events[typ], flat)
			if err != nil {
				t.Fatal(err)
			}
			expected[call["messageId"].(string)] = call
		}
	}
	return expected, skipped
}

// personFloats are float values as a person writes them, none exact in a
// float32 (but 0.5), one per record of each type with Avro float fields.
var personFloats = []float64{3.14, 40.7127837, -73.9857, 0.1, 19.99, 1e-7, 123456.78, 0.5}

func TestBinaryReplaysAvroStorageExports(t *testing.T) {
	dir := t.TempDir()
	expected, skipped := writeExport(t, dir, 40)
	if len(expected) < len(spec.AvroTypes())*30 {
		t.Fatalf("generator made only %d identifiable events", len(expected))
	}
	// Every type is selected, the ones outside Braze's default included, so
	// that every schema's records are mapped through the binary.
	every := strings.Join(spec.AvroTypes(), ", ")
	for _, marshaler := range []string{"goavro", "json"} {
		t.Run(marshaler, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.jsonl")
			dead := filepath.Join(t.TempDir(), "dead.jsonl")
			conf := filepath.Join(t.TempDir(), "replay.yaml")
			yaml := fmt.Sprintf(`
input:
  file:
    paths: [ %q ]
    codec: avro-ocf:marshaler=%s
pipeline:
  processors:
    - currents_to_segment:
        anonymous_users: send
        events: [ %s ]
output:
  switch:
    cases:
      - check: errored()
        output:
          file: { path: %q, codec: lines }
      - output:
          file: { path: %q, codec: lines }
logger:
  level: WARN
`, filepath.Join(dir, "**", "*.avro"), marshaler, every, dead, out)
			if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			r := run(t, ".", nil, "run", conf)
			if r.code != 0 {
				t.Fatalf("run: %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			t.Logf("replayed %d events in %v", len(expected)+skipped, time.Since(start))
			if b, _ := os.ReadFile(dead); len(b) > 0 {
				t.Fatalf("dead letters: %s", firstLines(string(b), 3))
			}
			got := readCalls(t, out)
			if len(got) != len(expected) {
				t.Fatalf("got %d calls, want %d", len(got), len(expected))
			}
			floats := 0 // calls with a 3.14 read from an Avro float
			for id, want := range expected {
				if !reflect.DeepEqual(got[id], want) {
					gb, _ := json.Marshal(got[id])
					wb, _ := json.Marshal(want)
					t.Fatalf("event %s\n got: %s\nwant: %s", id, gb, wb)
				}
				props, _ := got[id]["properties"].(map[string]any)
				for _, v := range props {
					if v == 3.14 {
						floats++
						break
					}
				}
			}
			if floats == 0 {
				t.Fatal("no call has an Avro float of 3.14: the float fields are not compared")
			}
		})
	}
}

func readCalls(t *testing.T, path string) map[string]map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls := map[string]map[string]any{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var call map[string]any
		if err := json.Unmarshal(sc.Bytes(), &call); err != nil {
			t.Fatalf("output line is not JSON: %v: %s", err, sc.Text())
		}
		id, _ := call["messageId"].(string)
		if _, dup := calls[id]; dup {
			t.Fatalf("messageId %s emitted twice", id)
		}
		calls[id] = call
	}
	return calls
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// defaultCall is the call the processor's defaults make of a contract
// example, and whether they make one: the type is in the default selection
// (Braze's connector's) and the user has an external_user_id.
func defaultCall(t *testing.T, typ string, et spec.EventType, raw []byte) (map[string]any, bool) {
	t.Helper()
	flat, err := contract.Flatten(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !contract.InDefault(typ, et) || contract.Skip(flat, false) != "" {
		return nil, false
	}
	call, err := contract.ExpectedCall(typ, et, flat)
	if err != nil {
		t.Fatal(err)
	}
	return call, true
}

// TestBinaryMapsBrazeSamples replays Braze's own sample records of every
// type (re-encoded with their schemas as the Avro files they came from) and
// Braze's HTTP examples (as one POST body) through the binary with the
// processor's defaults: what Braze's connector would send comes out, the
// other types are skipped.
func TestBinaryMapsBrazeSamples(t *testing.T) {
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var httpEvents []json.RawMessage
	var wantStorage, wantHTTP []map[string]any
	for _, typ := range spec.TypeNames(events) {
		raw, ok := spec.Example(typ, "storage")
		if !ok {
			t.Fatalf("%s: no storage example", typ)
		}
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		folder := filepath.Join(dir, "avro", "event_type="+typ, "date=2024-06-01-00")
		if err := os.MkdirAll(folder, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(folder, "sample.avro"))
		if err != nil {
			t.Fatal(err)
		}
		if err := samples.WriteOCF(f, typ, []map[string]any{rec}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if call, ok := defaultCall(t, typ, events[typ], raw); ok {
			wantStorage = append(wantStorage, call)
		}
		if raw, ok := spec.Example(typ, "http"); ok {
			httpEvents = append(httpEvents, raw)
			if call, ok := defaultCall(t, typ, events[typ], raw); ok {
				wantHTTP = append(wantHTTP, call)
			}
		}
	}
	body, _ := json.Marshal(map[string]any{"events": httpEvents})
	if err := os.WriteFile(filepath.Join(dir, "batch.json"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d storage samples (%d sent by default), %d HTTP samples (%d sent by default)", len(events), len(wantStorage), len(httpEvents), len(wantHTTP))
	if len(wantStorage) == 0 || len(wantHTTP) == 0 || len(wantStorage) == len(events) {
		t.Fatalf("the default selection sends %d of %d storage samples and %d HTTP samples: the contract says some but not all", len(wantStorage), len(events), len(wantHTTP))
	}

	// Every sample shares one placeholder id, so calls are compared in order.
	for name, c := range map[string]struct {
		input string
		want  []map[string]any
	}{
		"avro": {fmt.Sprintf(`file: { paths: [ %q ], codec: "avro-ocf:marshaler=json" }`, filepath.Join(dir, "avro", "*", "*", "*.avro")), wantStorage},
		"http": {fmt.Sprintf(`file: { paths: [ %q ], scanner: { to_the_end: {} } }`, filepath.Join(dir, "batch.json")), wantHTTP},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.jsonl")
			conf := filepath.Join(t.TempDir(), "c.yaml")
			yaml := fmt.Sprintf("input:\n  %s\npipeline:\n  threads: 1\n  processors: [ { currents_to_segment: {} } ]\noutput:\n  file: { path: %q, codec: lines }\nlogger: { level: WARN }\n", c.input, out)
			if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			if r := run(t, ".", nil, "run", conf); r.code != 0 {
				t.Fatalf("run: %s%s", r.stdout, r.stderr)
			}
			b, _ := os.ReadFile(out)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) != len(c.want) {
				t.Fatalf("%d calls, want %d", len(lines), len(c.want))
			}
			// Files are read in path order (sorted by type), the batch in order.
			for i, line := range lines {
				var got map[string]any
				if err := json.Unmarshal([]byte(line), &got); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, c.want[i]) {
					t.Fatalf("call %d\n got: %s\nwant: %v", i, line, c.want[i])
				}
			}
		})
	}
}
