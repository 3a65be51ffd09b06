package segmenttest

import (
	"bufio"
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/samples"
)

// mappedBatch is a /v1/batch body as the segment output sends it: n calls
// the mapper made from generated events of every type.
func mappedBatch(tb testing.TB, n int) []byte {
	tb.Helper()
	var events bytes.Buffer
	if err := samples.New(42).WriteJSONLines(&events, n+n/4, samples.ShapeHTTPEvent); err != nil {
		tb.Fatal(err)
	}
	m, err := currents.NewMapper(currents.DefaultCatalog(), currents.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	var body bytes.Buffer
	body.WriteString(`{"batch":[`)
	calls := 0
	sc := bufio.NewScanner(&events)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() && calls < n {
		for _, r := range m.Map(sc.Bytes(), nil) {
			if r.Outcome != currents.Mapped || calls == n {
				continue
			}
			if calls > 0 {
				body.WriteByte(',')
			}
			body.Write(r.Track)
			calls++
		}
	}
	if calls != n {
		tb.Fatalf("mapped %d calls, want %d", calls, n)
	}
	body.WriteString(`],"sentAt":"2026-12-02T10:00:00.000Z","context":{"library":{"name":"analytics-go","version":"3.0.0"}}}`)
	return body.Bytes()
}

// sameDecode fails unless decodeBatchCounting answers body exactly as
// decodeBatch does: the same messages, field by field and byte for byte,
// or the same error.
func sameDecode(t *testing.T, body []byte) {
	t.Helper()
	want, wantErr := decodeBatch(body)
	got, gotErr := decodeBatchCounting(body)
	if !reflect.DeepEqual(gotErr, wantErr) {
		t.Fatalf("body %.200q:\n counting error %+v\n decodeBatch    %+v", body, gotErr, wantErr)
	}
	if len(got) != len(want) {
		t.Fatalf("body %.200q: counting decoded %d messages, decodeBatch %d", body, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !bytes.Equal(g.Raw, w.Raw) {
			t.Fatalf("body %.200q: message %d raw\n counting    %q\n decodeBatch %q", body, i, g.Raw, w.Raw)
		}
		g.Raw, w.Raw = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("body %.200q: message %d\n counting    %+v\n decodeBatch %+v", body, i, g, w)
		}
	}
}

// countingCases are bodies on and off the common path: each one off it
// must reach decodeBatch and get its answer.
var countingCases = []string{
	`{"batch":[{"messageId":"a","type":"track","event":"E","userId":"u","anonymousId":"x","timestamp":"2026-01-01T00:00:00Z","sentAt":"s","properties":{"k":[1,2,{"z":null}]}}],"sentAt":"t"}`,
	` { "batch" : [ { "messageId" : "a" } , {"messageId":"b"} ] , "sentAt" : "t" } `,
	`{"batch":[]}`,
	`{"batch":[{}]}`,
	`{"sentAt":"t","batch":[{"messageId":"a"}]}`,
	`{"batch":[{"messageId":"a"}],"sentAt":12.5e3}`,
	`{"batch":[{"messageId":"a","userId":42,"anonymousId":null,"event":true}]}`,
	`{"batch":[{"messageId":"a\u00e9\n","event":"say \"hi\""}]}`,
	`{"batch":[{"messageId":"a","messageId":"b"}]}`,
	`{"batch":[{"MessageId":"a"}]}`,
	`{"batch":[{"messageid":"a","messageId":"b"}]}`,
	`{"batch":[{"me\u0073sageId":"a"}]}`,
	`{"batch":[{"meſſageId":"a"}]}`,
	`{"batch":[{"userıd":"a"}]}`,
	`{"batch":[{"ünicode":"a","messageId":"b"}]}`,
	`{"Batch":[{"messageId":"a"}]}`,
	`{"batch":[{"messageId":"a"}],"batch":[{"messageId":"b"}]}`,
	`{"batch":[{"messageId":"a"}],"SENTAT":"x"}`,
	`{"batch":null}`,
	`{"batch":{"messageId":"a"}}`,
	`{"batch":"a"}`,
	`{"sentAt":"t"}`,
	`{}`,
	`[]`,
	`"batch"`,
	`{"batch":[1]}`,
	`{"batch":[{"messageId":"a"},[]]}`,
	`{"batch":[null]}`,
	`{"batch":[{"messageId":"a"}]`,
	`{"batch":[{"messageId":"a"}]} x`,
	`{"batch":[{"messageId":"a",}]}`,
	`{"batch":[{"messageId":"\xff"}]}`,
	`{"batch":[{"messageId":"a"}],"sentAt":"\ud800"}`,
	`{"batch":[{"messageId":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}]}`,
	`{"batch":[{"messageId":"a","properties":{"p":"` + strings.Repeat("x", MaxMessageBytes) + `"}}]}`,
	`{"batch":[{"messageId":"a","properties":{"p":"` + strings.Repeat("x", MaxMessageBytes-50) + `"}}]}`,
	`{"batch":[` + strings.TrimSuffix(strings.Repeat(`{"messageId":"a"},`, MaxBatchMessages+1), ",") + `]}`,
	`{"batch":[` + strings.TrimSuffix(strings.Repeat(`{"messageId":"a"},`, MaxBatchMessages), ",") + `]}`,
	"",
	" ",
}

func TestCountingDecodeMatchesDecodeBatch(t *testing.T) {
	for i, c := range countingCases {
		t.Run(fmt.Sprint(i), func(t *testing.T) { sameDecode(t, []byte(c)) })
	}
	t.Run("mapped calls", func(t *testing.T) { sameDecode(t, mappedBatch(t, 250)) })
}

// TestCountingDecodeTakesTheCommonPath checks that the one-pass reader is
// the one answering the output's requests, not decodeBatch behind it: a
// reader that always handed over would match decodeBatch and save nothing.
func TestCountingDecodeTakesTheCommonPath(t *testing.T) {
	body := mappedBatch(t, 250)
	msgs, ok := scanBatch(body)
	if !ok || len(msgs) != 250 {
		t.Fatalf("scanBatch on the output's body: ok %v, %d messages", ok, len(msgs))
	}
	if msgs[0].ID == "" || msgs[0].Type != "track" || msgs[0].Event == "" || msgs[0].SentAt != "2026-12-02T10:00:00.000Z" {
		t.Fatalf("first message %+v", msgs[0])
	}
	for i, c := range countingCases[:8] {
		if _, ok := scanBatch([]byte(c)); !ok {
			t.Errorf("case %d %q: handed to decodeBatch, but it is on the common path", i, c)
		}
	}
}

func FuzzCountingDecode(f *testing.F) {
	for _, c := range countingCases {
		if len(c) < 4096 {
			f.Add([]byte(c))
		}
	}
	f.Add(mappedBatch(f, 3))
	f.Fuzz(func(t *testing.T, body []byte) { sameDecode(t, body) })
}

// BenchmarkDecodeBatch and BenchmarkDecodeBatchCounting read the same body
// of 250 mapped calls, the output's default batch. Reported per body.
func BenchmarkDecodeBatch(b *testing.B) { benchDecode(b, decodeBatch) }

func BenchmarkDecodeBatchCounting(b *testing.B) { benchDecode(b, decodeBatchCounting) }

func benchDecode(b *testing.B, decode func([]byte) ([]Message, *apiError)) {
	body := mappedBatch(b, 250)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if msgs, e := decode(body); e != nil || len(msgs) != 250 {
			b.Fatalf("%d messages, error %v", len(msgs), e)
		}
	}
}
