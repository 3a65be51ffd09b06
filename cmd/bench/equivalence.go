package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/currents-segment/currents-segment/internal/currents"
)

// checkEquivalent maps every line with the processor's mapper and with the
// Bloblang text, and fails on the first event whose calls differ (compared
// as JSON values: key order and number spelling aside), so the baseline does
// the same work as the processor. Events the processor skips (no user id at
// all) must be deleted by the mapping. It returns how many events were
// compared.
func checkEquivalent(blobl string, lines [][]byte) (int, error) {
	exec, err := bloblang.Parse(blobl)
	if err != nil {
		return 0, fmt.Errorf("connector.blobl does not parse: %w", err)
	}
	m, err := currents.NewMapper(currents.DefaultCatalog(), currents.Options{AnonymousUsers: currents.AnonymousSend})
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
		var want any
		if err := json.Unmarshal(rs[0].Track, &want); err != nil {
			return n, err
		}
		if err != nil {
			return n, fmt.Errorf("event %d: Bloblang mapping failed: %w", i, err)
		}
		raw, err := json.Marshal(out)
		if err != nil {
			return n, err
		}
		var got any
		if err := json.Unmarshal(raw, &got); err != nil {
			return n, err
		}
		if !reflect.DeepEqual(want, got) {
			return n, fmt.Errorf("event %d differs:\n  input:     %s\n  processor: %s\n  bloblang:  %s", i, line, rs[0].Track, raw)
		}
		n++
	}
	return n, nil
}
