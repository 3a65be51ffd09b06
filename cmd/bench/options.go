package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// options are the harness's flags, parsed and checked once before anything
// is built, so a typo fails in a second rather than after the builds.
type options struct {
	sizes       []int
	threads     int
	seed        int64
	diskSync    string
	profileDir  string
	profileSecs int
	// only is nil when -only is not given: then every pipeline runs, except
	// the diagnostic ones unless diag is set.
	only       map[string]bool
	keep       bool
	diag       bool
	repeat     int
	checkN     int
	writeBlobl bool
	// serveS3Dir and serveS3Addr make this process the storage pipelines'
	// S3 server (see startS3), not a harness run.
	serveS3Dir, serveS3Addr string
}

// quickSize is the one size of a -quick run: enough events for every
// pipeline to reach its steady state, few enough for a smoke run.
const quickSize = 20000

// parseOptions defines the flags on fs and parses args. main passes
// flag.CommandLine, so -h and a bad flag behave as for any Go command; tests
// pass their own FlagSet.
func parseOptions(fs *flag.FlagSet, args []string) (options, error) {
	var o options
	sizes := fs.String("sizes", "100000,1000000", "comma-separated event counts; each pipeline runs once per size")
	quick := fs.Bool("quick", false, "smoke run: 20000 events only (overrides -sizes)")
	fs.IntVar(&o.threads, "threads", 2, "pipeline threads")
	fs.Int64Var(&o.seed, "seed", 42, "sample generator seed")
	fs.StringVar(&o.diskSync, "disk-sync", "none", "sync mode of the disk buffer in the e2e-disk pipeline: none or always (always fsyncs every input message: ~2,000 events/s from the file input)")
	fs.StringVar(&o.profileDir, "profile", "", "if set, take a CPU profile of every run through Benthos's /debug/pprof/profile into this directory")
	fs.IntVar(&o.profileSecs, "profile-seconds", 5, "length of each CPU profile")
	only := fs.String("only", "", "comma-separated pipelines to run (default all): "+strings.Join(pipelineNames(pipelines), ","))
	fs.IntVar(&o.repeat, "repeat", 1, "run every pipeline this many times and keep the run with the least CPU (a shared, noisy machine only ever adds CPU time)")
	fs.BoolVar(&o.diag, "diagnostic", false, "also run passthrough (file -> drop, no processor: what Benthos costs before any pipeline stage) and mapping-identity (mapping: root = this)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (configs, logs, events)")
	fs.IntVar(&o.checkN, "check", 20000, "events checked for identical calls from the processor and connector.blobl")
	fs.BoolVar(&o.writeBlobl, "write-blobl", false, "regenerate cmd/bench/connector.blobl and connector_storage.blobl from currents.DefaultCatalog() and exit")
	fs.StringVar(&o.serveS3Dir, "serve-s3", "", "internal: serve this directory as an S3 bucket (the storage pipelines start the harness again with it)")
	fs.StringVar(&o.serveS3Addr, "serve-s3-address", "", "internal: the address of -serve-s3")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.serveS3Dir != "" {
		return o, nil
	}
	if o.writeBlobl {
		// Nothing else is read: -write-blobl only regenerates the file.
		return o, nil
	}

	if o.repeat < 1 {
		return o, errors.New("-repeat must be at least 1")
	}
	if *quick {
		*sizes = strconv.Itoa(quickSize)
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-sizes: %q is not a positive count", s)
		}
		o.sizes = append(o.sizes, n)
	}
	if *only != "" {
		o.only = map[string]bool{}
		for _, p := range strings.Split(*only, ",") {
			o.only[strings.TrimSpace(p)] = true
		}
	}
	return o, nil
}

// runs says whether p is measured in this invocation: the pipelines named
// in -only, or else every pipeline but the diagnostic ones, which only
// explain the others and run with -diagnostic.
func (o options) runs(p pipeline) bool {
	if o.only != nil {
		return o.only[p.name]
	}
	return !p.diag || o.diag
}
