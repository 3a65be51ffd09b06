// Command bench measures currents-segment's pipelines side by side, through
// the real binary, against what a Benthos user without this project would
// run: the same mapping hand-written in Bloblang (connector.blobl) and
// posted with http_client. See cmd/bench/README.md.
//
//	go run ./cmd/bench                 # 100k and 1M events, every pipeline
//	go run ./cmd/bench -quick          # 20k events, a smoke run
//	go run ./cmd/bench -sizes 100000 -profile /tmp/prof
//
// The pipelines and their targets are in pipelines.go; this file only wires
// the steps together.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	o, err := parseOptions(flag.CommandLine, os.Args[1:])
	if err != nil {
		return err
	}
	if o.writeBlobl {
		return writeConnectorBlobl()
	}
	if o.serveS3Dir != "" {
		return serveS3(o.serveS3Dir, o.serveS3Addr)
	}
	if err := checkConnectorBloblCurrent(); err != nil {
		return err
	}
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the repository root: go run ./cmd/bench")
	}

	dir, err := os.MkdirTemp("", "currents-bench-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Println("work directory:", dir)
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}

	fmt.Printf("machine: %d CPUs (GOMAXPROCS of children unset), %s %s/%s\n", runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if v, set := os.LookupEnv("GOGC"); set {
		fmt.Printf("collector: GOGC=%s for every pipeline (from the environment)\n", v)
	} else {
		fmt.Println("collector: the binary's default (GOGC=200) for the project's pipelines, Go's (GOGC=100) for the stock ones, as each ships; GOGC=... sets one for all")
	}
	h := &harness{opts: o, dir: dir, bin: filepath.Join(dir, "currents-segment"), recvBin: filepath.Join(dir, "segment-receiver")}
	if err := h.build(); err != nil {
		return err
	}

	var results []result
	for si, n := range o.sizes {
		fx := fixture{path: filepath.Join(dir, fmt.Sprintf("events-%d.jsonl", n)), n: n}
		var lines [][]byte
		if fx.expected, lines, err = generate(fx.path, n, o.seed, o.checkN); err != nil {
			return err
		}
		if si == 0 {
			checked, err := checkEquivalent(connectorBlobl, lines)
			if err != nil {
				return fmt.Errorf("connector.blobl is not equivalent to currents_to_segment: %w", err)
			}
			fmt.Printf("checked: connector.blobl and currents_to_segment make identical calls for %d events\n", checked)
		}
		fmt.Printf("\n== %d events (%s, %d mapped by the processor)\n", n, humanBytes(fileSize(fx.path)), fx.expected)
		var selected []pipeline
		for _, p := range pipelines {
			if !o.runs(p) {
				continue
			}
			if p.storage && fx.storage == nil {
				sf, err := writeStorageFixture(filepath.Join(dir, fmt.Sprintf("export-%d", n)), n, o.seed)
				if err != nil {
					return err
				}
				fx.storage = &sf
				fmt.Printf("   storage export: %d events in Avro files (%s, deflate), %d mapped by the processor\n", n, humanBytes(sf.bytes), sf.expected)
				checked, err := checkStorageEquivalent(connectorStorageBlobl, sf.dir, 200)
				if err != nil {
					return fmt.Errorf("connector_storage.blobl is not equivalent to currents_to_segment: %w", err)
				}
				fmt.Printf("   checked: connector_storage.blobl and currents_to_segment make identical calls for %d records\n", checked)
			}
			selected = append(selected, p)
		}
		rs, err := h.measure(selected, fx)
		if err != nil {
			return err
		}
		for _, r := range rs {
			printRun(os.Stdout, r)
		}
		results = append(results, rs...)
	}
	report(os.Stdout, pipelines, results, o.sizes)
	return nil
}

// build builds the binaries the runs start, once, into the work directory:
// the pipelines run the real binary, as a user would.
func (h *harness) build() error {
	fmt.Println("building ./cmd/currents-segment and ./cmd/segment-receiver ...")
	for target, out := range map[string]string{"./cmd/currents-segment": h.bin, "./cmd/segment-receiver": h.recvBin} {
		cmd := exec.Command("go", "build", "-o", out, target)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", target, err)
		}
	}
	return nil
}
