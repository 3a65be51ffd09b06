package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// pipeline is one configuration measured: everything the harness and the
// report know about it is in its entry in pipelines.
type pipeline struct {
	name string
	// e2e pipelines post to a receiver started for the run, whose count
	// must equal the events mapped.
	e2e bool
	// diag pipelines only explain the others: they run with -diagnostic
	// or when named in -only.
	diag bool
	// storage pipelines read the fixture's Avro storage export instead of
	// its JSON lines, from the harness's S3 server when s3 is set.
	storage, s3 bool
	// http pipelines take Braze-style requests on BENCH_INPUT_ADDRESS, sent
	// by the harness (see driveHTTP); readyPath is where the input says it
	// takes them ("" when it has no such endpoint).
	http      bool
	readyPath string
	// stock pipelines use only Benthos's own components: a stock Benthos
	// build runs them, so they run at Go's default collector (GOGC=100),
	// not at the currents-segment binary's (see stockEnv).
	stock bool
	// config writes the pipeline's Benthos config for one run.
	config func(s runSpec) string
	// targets are this pipeline's lines under "## Targets", each comparing
	// it with pipelines measured at the same size in the same run.
	targets []target
}

// runSpec is what one run's config is written from: the flags that shape
// every pipeline and this run's paths and addresses. A pipeline that needs
// more (a listen address, a fixture of another shape) adds a field here
// rather than a parameter to every config function.
type runSpec struct {
	events   string // the JSON lines file, one event per line
	endpoint string // the receiver's base URL; empty unless the pipeline is e2e
	dir      string // this run's directory: config, logs, the disk buffer
	threads  int    // pipeline.threads
	diskSync string // sync of the disk buffer
	// export is the storage export's directory and storageURL its S3 URL,
	// for the storage pipelines.
	export, storageURL string
	// profile serves Benthos's HTTP API with its debug endpoints at
	// ${BENCH_HTTP_ADDRESS}, for the CPU profile.
	profile bool
}

// pipelines are the configurations measured, in the order they run and are
// reported. Adding one is adding an entry here.
var pipelines = []pipeline{
	// noop is the baseline, `file` → `noop` → `drop`: the core noop
	// processor, so it pays the pipeline stage every processor pays.
	{name: "noop", stock: true, config: func(s runSpec) string {
		return s.config(fileInput(s.events), "    - noop: {}\n", dropOutput, "")
	}},
	// passthrough has no processor at all (the input feeds the output): what
	// Benthos itself costs per message, before any pipeline stage.
	{name: "passthrough", stock: true, diag: true, config: func(s runSpec) string {
		return s.config(fileInput(s.events), "", dropOutput, "")
	}},
	// mapping-identity is the cheapest Bloblang mapping: what the mapping
	// processor costs before the mapping does anything.
	{name: "mapping-identity", stock: true, diag: true, config: func(s runSpec) string {
		return s.config(fileInput(s.events), "    - mapping: root = this\n", dropOutput, "")
	}},
	// processor is the mapping alone: the targets hold it against the
	// pipeline stage (noop) and against the Bloblang mapping.
	{name: "processor", config: func(s runSpec) string {
		return s.config(fileInput(s.events), currentsToSegment, dropOutput, "")
	}, targets: []target{
		cpuAtMost("noop", 1.5),
		info(figure{over: "noop", metric: cpuDifference}),
		info(figure{of: "noop", over: "passthrough", metric: cpuRatio, note: "the pipeline stage"},
			figure{over: "passthrough", metric: cpuRatio}),
	}},
	// bloblang is connector.blobl, the same calls as the processor (checked
	// before every run) hand-written as a Benthos user would.
	{name: "bloblang", stock: true, config: func(s runSpec) string {
		return s.config(fileInput(s.events), connectorMapping(), dropOutput, "")
	}, targets: []target{
		cpuAtLeast("processor", 5),
	}},
	// e2e-processor is the processor and the segment output, as the
	// project's own configs run it; e2e-processor-disk adds the disk buffer.
	{name: "e2e-processor", e2e: true, config: func(s runSpec) string {
		return s.config(fileInput(s.events), currentsToSegment, segmentOutput(s.endpoint), "")
	}, targets: []target{
		throughputAtLeast("e2e-bloblang-http", 3),
		cpuAtMost("processor", 2),
	}},
	{name: "e2e-processor-disk", e2e: true, config: func(s runSpec) string {
		return s.config(fileInput(s.events), currentsToSegment, segmentOutput(s.endpoint),
			fmt.Sprintf("buffer:\n  disk:\n    path: %q\n    max_bytes: 8GiB\n    sync: %s\n", filepath.Join(s.dir, "buffer"), s.diskSync))
	}, targets: []target{
		throughputAtLeast("e2e-bloblang-http", 3),
		cpuAtMost("processor", 2),
	}},
	// e2e-bloblang-http is what a Benthos user without this project would
	// run: connector.blobl, then http_client posting Segment batches.
	{name: "e2e-bloblang-http", stock: true, e2e: true, config: func(s runSpec) string {
		return s.config(fileInput(s.events), connectorMapping(), httpClientBatchOutput(s.endpoint), "")
	}},
	// The production path: Braze's HTTP push, 100 events per request, 8 in
	// flight, sent by the harness; events/s over the load (first request to
	// last answer), CPU of the whole process.
	{name: "http-processor", e2e: true, http: true, readyPath: "/ready", config: func(s runSpec) string {
		return s.config(brazeCurrentsInput, currentsToSegment, segmentOutput(s.endpoint), "")
	}, targets: []target{
		throughputAtLeast("http-bloblang-peer", 5),
		cpuAtMost("http-bloblang-peer", 0.1),
		cpuAtMost("e2e-processor", 1.25),
	}},
	{name: "http-processor-disk", e2e: true, http: true, readyPath: "/ready", config: func(s runSpec) string {
		return s.config(brazeCurrentsInput, currentsToSegment, segmentOutput(s.endpoint),
			fmt.Sprintf("buffer:\n  disk:\n    path: %q\n    max_bytes: 8GiB\n    sync: always\n", filepath.Join(s.dir, "buffer")))
	}, targets: []target{
		throughputAtLeast("http-bloblang-peer", 5),
		cpuAtMost("http-bloblang-peer", 0.1),
		info(figure{over: "http-processor", metric: cpuRatio, note: "what the fsynced buffer adds"}),
	}},
	// http-bloblang-peer is stock Benthos: http_server, the envelope split,
	// connector.blobl, http_client posting Segment batches.
	{name: "http-bloblang-peer", stock: true, e2e: true, http: true, config: func(s runSpec) string {
		return s.config(httpServerInput, splitEnvelope+connectorMapping(), httpClientBatchOutput(s.endpoint), "")
	}},
	// http-drop is the floor: braze_currents answering each request once
	// core's drop output took its one message.
	{name: "http-drop", http: true, readyPath: "/ready", config: func(s runSpec) string {
		return s.config(brazeCurrentsInput, "", dropOutput, "")
	}, targets: []target{
		info(figure{of: "http-processor", over: "http-drop", metric: cpuRatio, note: "the whole path over the input's floor"}),
	}},
	// The storage backfill: braze_storage from an S3 server (gofakes3, a
	// process of its own on 127.0.0.1) and from the same files on local
	// disk, against the file input with the avro-ocf codec over the local
	// files, each mapped by the processor and delivered to the receiver.
	{name: "storage-s3", e2e: true, storage: true, s3: true, config: func(s runSpec) string {
		return s.config(storageInput(s.storageURL, s.dir), currentsToSegment, segmentOutput(s.endpoint), "")
	}, targets: []target{
		throughputAtLeast("storage-bloblang-peer", 3),
		info(figure{over: "storage-bloblang-peer", metric: cpuRatio},
			figure{over: "storage-file-avro", metric: throughputRatio}, figure{over: "storage-file-avro", metric: cpuRatio}),
	}},
	{name: "storage-file", e2e: true, storage: true, config: func(s runSpec) string {
		return s.config(storageInput("file://"+filepath.ToSlash(s.export), s.dir), currentsToSegment, segmentOutput(s.endpoint), "")
	}, targets: []target{
		info(figure{over: "storage-file-avro", metric: throughputRatio}, figure{over: "storage-file-avro", metric: cpuRatio}),
	}},
	{name: "storage-file-avro", e2e: true, storage: true, config: func(s runSpec) string {
		return s.config(avroFileInput(s.export), currentsToSegment, segmentOutput(s.endpoint), "")
	}},
	// storage-bloblang-peer is stock Benthos over a local copy of the
	// export: file with the avro-ocf codec, connector_storage.blobl (the
	// same calls, checked before the run), http_client posting Segment
	// batches.
	{name: "storage-bloblang-peer", stock: true, e2e: true, storage: true, config: func(s runSpec) string {
		return s.config(avroFileInput(s.export), connectorStorageMapping(), httpClientBatchOutput(s.endpoint), "")
	}},
}

func pipelineNames(ps []pipeline) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.name)
	}
	return out
}

// config assembles a whole config from its sections, in the same order for
// every pipeline: the HTTP API, the logger at WARN (so logging costs nothing),
// the input, the pipeline stage with its processors (the list items, indented
// four spaces; empty for none), the output and an optional buffer.
func (s runSpec) config(input, processors, output, buffer string) string {
	httpConf := "http:\n  enabled: false\n"
	if s.profile {
		httpConf = "http:\n  address: ${BENCH_HTTP_ADDRESS}\n  debug_endpoints: true\n"
	}
	stage := "  processors: []\n"
	if processors != "" {
		stage = "  processors:\n" + processors
	}
	return httpConf + "logger:\n  level: warn\nshutdown_timeout: 60s\n" + input +
		fmt.Sprintf("pipeline:\n  threads: %d\n", s.threads) + stage + output + buffer
}

// fileInput reads the events file line by line: one message per event, as
// Braze's HTTP batches are split into.
func fileInput(events string) string {
	return fmt.Sprintf("input:\n  file:\n    paths: [ %q ]\n    scanner:\n      lines: {}\n", events)
}

// currentsToSegment is the processor as the harness measures it: every event
// is sent, including those with only an anonymous id, as connector.blobl does.
const currentsToSegment = "    - currents_to_segment:\n        anonymous_users: send\n"

// connectorMapping is connector.blobl as a mapping processor.
func connectorMapping() string {
	return "    - mapping: |\n" + indent(connectorBlobl, "        ")
}

// connectorStorageMapping is connector_storage.blobl as a mapping processor.
func connectorStorageMapping() string {
	return "    - mapping: |\n" + indent(connectorStorageBlobl, "        ")
}

const dropOutput = "output:\n  drop: {}\n"

// segmentOutput is the segment output as a user would configure it: its
// defaults (batches of 250, 8 requests in flight), the receiver as endpoint.
func segmentOutput(endpoint string) string {
	return fmt.Sprintf("output:\n  segment:\n    write_key: %s\n    endpoint: %s\n", writeKey, endpoint)
}

// httpClientBatchOutput posts Segment batch requests the way a Benthos user
// would without the segment output: the same batch size and requests in
// flight as its defaults, the write key as basic auth.
func httpClientBatchOutput(endpoint string) string {
	return fmt.Sprintf(`output:
  http_client:
    url: %s/v1/batch
    verb: POST
    headers:
      Content-Type: application/json
    basic_auth:
      enabled: true
      username: %s
      password: ""
    max_in_flight: 8
    batching:
      count: 250
      period: 100ms
      processors:
        - archive:
            format: json_array
        - mapping: 'root = {"batch": this}'
`, endpoint, writeKey)
}

// indent prefixes every non-blank line of s, to embed a multi-line text in a
// YAML block scalar.
func indent(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l == "" {
			continue
		}
		if strings.TrimSpace(l) != "" {
			b.WriteString(prefix)
		}
		b.WriteString(l)
	}
	return b.String()
}
