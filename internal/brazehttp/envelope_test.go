package brazehttp

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/currents-segment/currents-segment/internal/samples"
)

func TestCountEvents(t *testing.T) {
	for body, want := range map[string]int{
		`{"events":[]}`:                                       0,
		`{"events":[{"id":"a"},{"id":"b"}]}`:                  2,
		` {"other":{"x":[1,2]},"events":[1,"x",null,[],{}]} `: 5, // elements are not checked
		`{"events":[{"id":"a"}],"events":[]}`:                 0, // the last one counts
		"{\"events\":[{\"id\":\"\\u00e9\"}]}\n":               1,
		string(brazeRequest(t, 100)):                          100,
	} {
		got, err := CountEvents([]byte(body))
		if err != nil || got != want {
			t.Errorf("%.200s: %d, %v; want %d", body, got, err, want)
		}
	}
	for body, want := range map[string]string{
		``:                        "empty or cut short",
		`nope`:                    "not JSON",
		`[{"id":"a"}]`:            "not an object (it starts with an array)",
		`"events"`:                "not an object (it starts with a string)",
		`{}`:                      `no "events" member`,
		`{"events":null}`:         `"events" is null, not an array`,
		`{"events":{"a":1}}`:      `"events" is an object, not an array`,
		`{"events":"[]"}`:         `"events" is a string, not an array`,
		`{"events":[{"id":}]}`:    "not valid JSON",
		`{"events":[]`:            "cut short",
		`{"events":[]}{}`:         "unexpected data after the JSON object",
		`{"events":[]} x`:         "unexpected data after the JSON object",
		`{"ev\u0065nts":[]}`:      `no "events" member`, // as the currents decoder reads it
		"{\"events\":[\"\xff\"]}": "not valid UTF-8",
		`{"events":[1,]}`:         "not valid JSON",
		`nul`:                     "not JSON",
		`true`:                    "it starts with a boolean",
		`  `:                      "empty",
	} {
		_, err := CountEvents([]byte(body))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "not a Braze Currents envelope: ") {
			t.Errorf("%q: error %v, want it to contain %q", body, err, want)
		}
	}
}

// tinyEvents returns an envelope of n small events of about 130 bytes, the
// shape of the hostile bodies of issue 13.
func tinyEvents(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"event_type":"users.messages.email.Send","id":"%08d","time":1764334800,"user":{"user_id":"u%08d","external_user_id":"x"}}`, i, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// Counting costs no allocation however many events the body holds: the
// event limit is enforced before anything is built from the events.
func TestCountEventsAllocatesNothing(t *testing.T) {
	body := tinyEvents(1000)
	if n := testing.AllocsPerRun(10, func() { _, _ = CountEvents(body) }); n != 0 {
		t.Fatalf("%v allocations per count", n)
	}
	if n, err := CountEvents(body); n != 1000 || err != nil {
		t.Fatalf("%d, %v", n, err)
	}
}

func BenchmarkCountEvents(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"tiny-events", tinyEvents(80000)},      // about 10 MiB of issue 13's hostile shape
		{"braze-request", brazeRequest(b, 100)}, // what Braze posts: 100 events of every type
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CountEvents(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// brazeRequest returns an envelope of n generated events of Braze's HTTP
// shape, the body of one Braze request (about 790 bytes an event).
func brazeRequest(tb testing.TB, n int) []byte {
	var lines bytes.Buffer
	if err := samples.New(42).WriteJSONLines(&lines, n, samples.ShapeHTTPEvent); err != nil {
		tb.Fatal(err)
	}
	body := []byte(`{"events":[`)
	for i, line := range bytes.Split(bytes.TrimSpace(lines.Bytes()), []byte("\n")) {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, line...)
	}
	return append(body, "]}"...)
}
