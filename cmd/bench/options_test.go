package main

import (
	"flag"
	"io"
	"reflect"
	"testing"
)

func parseTest(t *testing.T, args ...string) (options, error) {
	t.Helper()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return parseOptions(fs, args)
}

func TestParseOptionsDefaults(t *testing.T) {
	o, err := parseTest(t)
	if err != nil {
		t.Fatal(err)
	}
	want := options{sizes: []int{100000, 1000000}, threads: 2, seed: 42, diskSync: "none", profileSecs: 5, repeat: 1, checkN: 20000}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", o, want)
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseTest(t, "-sizes", " 1000, 2000 ", "-only", "noop, processor", "-repeat", "3", "-threads", "4", "-disk-sync", "always", "-diagnostic")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.sizes, []int{1000, 2000}) {
		t.Errorf("sizes %v", o.sizes)
	}
	if !reflect.DeepEqual(o.only, map[string]bool{"noop": true, "processor": true}) {
		t.Errorf("only %v", o.only)
	}
	if o.repeat != 3 || o.threads != 4 || o.diskSync != "always" || !o.diag {
		t.Errorf("options %+v", o)
	}

	// -quick wins over -sizes.
	if o, err := parseTest(t, "-sizes", "5", "-quick"); err != nil || !reflect.DeepEqual(o.sizes, []int{quickSize}) {
		t.Errorf("-quick: sizes %v, %v", o.sizes, err)
	}
	// -write-blobl reads nothing else.
	if o, err := parseTest(t, "-write-blobl", "-sizes", "x"); err != nil || !o.writeBlobl {
		t.Errorf("-write-blobl: %+v, %v", o, err)
	}
}

func TestParseOptionsRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-sizes", "100,x"},
		{"-sizes", "0"},
		{"-sizes", "100,"},
		{"-repeat", "0"},
		{"-no-such-flag"},
	} {
		if _, err := parseTest(t, args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestOptionsRuns(t *testing.T) {
	regular, diag := pipeline{name: "processor"}, pipeline{name: "passthrough", diag: true}
	for _, c := range []struct {
		o             options
		regular, diag bool
	}{
		{options{}, true, false},
		{options{diag: true}, true, true},
		{options{only: map[string]bool{"passthrough": true}}, false, true},
		{options{only: map[string]bool{"processor": true}, diag: true}, true, false},
	} {
		if got := c.o.runs(regular); got != c.regular {
			t.Errorf("%+v runs %s = %v", c.o, regular.name, got)
		}
		if got := c.o.runs(diag); got != c.diag {
			t.Errorf("%+v runs %s = %v", c.o, diag.name, got)
		}
	}
}
