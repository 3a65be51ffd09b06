package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/linkedin/goavro/v2"
	"github.com/redpanda-data/benthos/v4/public/bloblang"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/currents"
)

// checkEquivalent maps every line with the processor's mapper and with the
// Bloblang text, and fails on the first event whose calls differ (compared
// as JSON values: key order and number spelling aside), so the baseline does
// the same work as the processor. Events the processor skips (no user id at
// all) must be deleted by the mapping. It returns how many events were
// compared.
func checkEquivalent(blobl string, lines [][]byte) (int, error) {
	exec, m, err := equivalenceSides("connector.blobl", blobl)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, line := range lines {
		rs := m.Map(line, nil)
		if len(rs) != 1 || rs[0].Outcome == currents.Failed {
			return n, fmt.Errorf("event %d: the processor did not map it: %+v", i, rs)
		}
		var in any
		dec := json.NewDecoder(strings.NewReader(string(line)))
		dec.UseNumber()
		if err := dec.Decode(&in); err != nil {
			return n, err
		}
		out, err := exec.Query(in)
		if rs[0].Outcome == currents.Skipped {
			if !errors.Is(err, bloblang.ErrRootDeleted) {
				return n, fmt.Errorf("event %d: the processor skips it (%s), Bloblang gives %v, %v", i, rs[0].SkipReason, out, err)
			}
			n++
			continue
		}
		if err != nil {
			return n, fmt.Errorf("event %d: Bloblang mapping failed: %w", i, err)
		}
		raw, err := json.Marshal(out)
		if err != nil {
			return n, err
		}
		if err := sameCall(rs[0].Track, raw); err != nil {
			return n, fmt.Errorf("event %d %w\n  input:     %s", i, err, line)
		}
		n++
	}
	return n, nil
}

// equivalenceSides parses the mapping named name and builds the processor's
// mapper as the harness runs it (anonymous_users: send).
func equivalenceSides(name, blobl string) (*bloblang.Executor, *currents.Mapper, error) {
	exec, err := bloblang.Parse(blobl)
	if err != nil {
		return nil, nil, fmt.Errorf("%s does not parse: %w", name, err)
	}
	m, err := currents.NewMapper(currents.DefaultCatalog(), currents.Options{AnonymousUsers: currents.AnonymousSend})
	if err != nil {
		return nil, nil, err
	}
	return exec, m, nil
}

// sameCall compares the processor's call with the mapping's as JSON values:
// key order and number spelling aside.
func sameCall(processor, bloblang []byte) error {
	var want, got any
	if err := json.Unmarshal(processor, &want); err != nil {
		return err
	}
	if err := json.Unmarshal(bloblang, &got); err != nil {
		return err
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("differs:\n  processor: %s\n  bloblang:  %s", processor, bloblang)
	}
	return nil
}

// checkStorageEquivalent does for the storage mapping what checkEquivalent
// does for the HTTP one, on the export under dir read the way the peer
// pipeline reads it: each object decoded by goavro into a structured
// message (what the file input's avro-ocf:marshaler=json codec makes) with
// its file path as the path metadata. The processor maps the same record
// as JSON, with the type from the path. It checks the first perFile
// records of every object and returns how many it compared.
func checkStorageEquivalent(blobl, dir string, perFile int) (int, error) {
	exec, m, err := equivalenceSides("connector_storage.blobl", blobl)
	if err != nil {
		return 0, err
	}
	n := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".avro") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		ocf, err := goavro.NewOCFReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for i := 0; i < perFile && ocf.Scan(); i++ {
			datum, err := ocf.Read()
			if err != nil {
				return fmt.Errorf("%s: record %d: %w", path, i, err)
			}
			line, err := json.Marshal(datum)
			if err != nil {
				return err
			}
			rs := m.Map(line, &currents.Origin{Path: filepath.ToSlash(path)})
			if len(rs) != 1 || rs[0].Outcome == currents.Failed {
				return fmt.Errorf("%s: record %d: the processor did not map it: %+v", path, i, rs)
			}
			msg := service.NewMessage(nil)
			msg.SetStructuredMut(datum)
			msg.MetaSetMut("path", path)
			out, err := msg.BloblangQuery(exec)
			if err != nil {
				return fmt.Errorf("%s: record %d: Bloblang mapping failed: %w", path, i, err)
			}
			if rs[0].Outcome == currents.Skipped {
				if out != nil {
					raw, _ := out.AsBytes()
					return fmt.Errorf("%s: record %d: the processor skips it (%s), Bloblang gives %s", path, i, rs[0].SkipReason, raw)
				}
				n++
				continue
			}
			if out == nil {
				return fmt.Errorf("%s: record %d: Bloblang deleted it, the processor maps it to %s", path, i, rs[0].Track)
			}
			raw, err := out.AsBytes()
			if err != nil {
				return err
			}
			if err := sameCall(rs[0].Track, raw); err != nil {
				return fmt.Errorf("%s: record %d %w\n  input:     %s", path, i, err, line)
			}
			n++
		}
		return ocf.Err()
	})
	return n, err
}
