// Package componentname holds the names our Benthos components register
// under, in one place: the plugin packages register with them, and the test
// beside them checks that none is taken by Benthos core or, as far as we
// know, by Redpanda Connect. Benthos keeps the last component registered
// under a name, silently, so a collision would make one of two builds lose a
// component without a word.
package componentname

// The names, by kind.
const (
	BrazeCurrentsInput        = "braze_currents"
	BrazeStorageInput         = "braze_storage"
	CurrentsToSegment         = "currents_to_segment"
	SegmentOutput             = "segment"
	DiskBuffer                = "disk"
	PrometheusMetrics         = "prometheus"
	UnknownEventTypesBloblang = "currents_unknown_event_types"
)

// Kind is a kind of Benthos component.
type Kind string

// The kinds our components are.
const (
	Input          Kind = "input"
	Processor      Kind = "processor"
	Output         Kind = "output"
	Buffer         Kind = "buffer"
	Metrics        Kind = "metrics"
	BloblangMethod Kind = "bloblang method"
)

// Component is one name of ours and its kind.
type Component struct {
	Kind Kind
	Name string
}

// All lists every component of ours.
var All = []Component{
	{Input, BrazeCurrentsInput},
	{Input, BrazeStorageInput},
	{Processor, CurrentsToSegment},
	{Output, SegmentOutput},
	{Buffer, DiskBuffer},
	{Metrics, PrometheusMetrics},
	{BloblangMethod, UnknownEventTypesBloblang},
}
