// Package plugin holds the currents-segment Benthos components. A blank import
// registers them all in the global environment, so any Benthos v4 or Redpanda
// Connect build can compile them in:
//
//	import _ "github.com/currents-segment/currents-segment/plugin"
//
// Components: the currents_to_segment processor, the segment output, the
// braze_currents and braze_storage inputs and the disk buffer. The prometheus metrics exporter
// is in plugin/prometheus, imported on its own (Redpanda Connect has one of
// that name).
package plugin
