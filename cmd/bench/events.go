package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/samples"
)

// fixture is the events file every pipeline reads at one size.
type fixture struct {
	path string
	n    int
	// expected is how many calls the processor maps from it: what an e2e
	// run's receiver must count.
	expected int
	// storage is the same number of events as an Avro storage export, made
	// the first time a storage pipeline runs at this size.
	storage *storageFixture
}

// generate writes n events of every type in the HTTP event shape, counts
// how many the processor maps (all of them with anonymous_users: send), and
// returns the first checkN lines for the equivalence check.
func generate(path string, n int, seed int64, checkN int) (expected int, firstLines [][]byte, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := samples.New(seed).WriteJSONLines(w, n, samples.ShapeHTTPEvent); err != nil {
		f.Close()
		return 0, nil, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, nil, err
	}
	if err := f.Close(); err != nil {
		return 0, nil, err
	}
	// Counted by reading the file back through the mapper, so the count is
	// of exactly the bytes the pipelines read.
	m, err := currents.NewMapper(currents.DefaultCatalog(), currents.Options{AnonymousUsers: currents.AnonymousSend})
	if err != nil {
		return 0, nil, err
	}
	rf, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer rf.Close()
	sc := bufio.NewScanner(rf)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		for _, r := range m.Map(line, nil) {
			if r.Outcome == currents.Mapped {
				expected++
			}
		}
		if len(firstLines) < checkN {
			firstLines = append(firstLines, append([]byte(nil), line...))
		}
	}
	return expected, firstLines, sc.Err()
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func humanBytes(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
