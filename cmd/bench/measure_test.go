package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The runs go in rounds, every pipeline once a round, and each pipeline
// keeps its own run with the least CPU, whichever round it came from.
func TestInRounds(t *testing.T) {
	ps := []pipeline{{name: "ours"}, {name: "peer"}}
	cpu := map[string][]time.Duration{
		"ours": {3 * time.Second, 1 * time.Second, 2 * time.Second},
		"peer": {5 * time.Second, 6 * time.Second, 4 * time.Second},
	}
	var order []string
	runs := map[string]int{}
	got, err := inRounds(ps, 3, func(p pipeline) (result, error) {
		order = append(order, p.name)
		k := runs[p.name]
		runs[p.name]++
		return result{pipeline: p.name, user: cpu[p.name][k], wall: time.Duration(k+1) * time.Second}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ours", "peer", "ours", "peer", "ours", "peer"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("ran %v, want %v", order, want)
	}
	if got[0].cpu() != time.Second || got[0].wall != 2*time.Second {
		t.Errorf("ours kept %v CPU from the run of %v wall, want round 2's (1s, 2s)", got[0].cpu(), got[0].wall)
	}
	if got[1].cpu() != 4*time.Second || got[1].wall != 3*time.Second {
		t.Errorf("peer kept %v CPU from the run of %v wall, want round 3's (4s, 3s)", got[1].cpu(), got[1].wall)
	}
	for _, r := range got {
		if !strings.Contains(r.note, "least CPU of 3 runs in rounds") {
			t.Errorf("%s: note %q does not say how it was measured", r.pipeline, r.note)
		}
	}

	// One run each says nothing about rounds; a failed run ends the rounds.
	got, err = inRounds(ps, 1, func(p pipeline) (result, error) { return result{pipeline: p.name}, nil })
	if err != nil || len(got) != 2 || got[0].note != "" {
		t.Errorf("one round: %+v, %v", got, err)
	}
	boom := errors.New("boom")
	if _, err := inRounds(ps, 3, func(pipeline) (result, error) { return result{}, boom }); !errors.Is(err, boom) {
		t.Errorf("a failed run: %v", err)
	}
}
