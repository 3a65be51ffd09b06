package segment

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/samples"
)

// benchTracks maps n generated Currents events of every type, as the
// processor would hand them to the output.
func benchTracks(b *testing.B, n int) [][]byte {
	b.Helper()
	var buf bytes.Buffer
	if err := samples.New(42).WriteJSONLines(&buf, n, samples.ShapeHTTPEvent); err != nil {
		b.Fatal(err)
	}
	m, err := currents.NewMapper(currents.DefaultCatalog(), currents.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		for _, r := range m.Map(sc.Bytes(), nil) {
			if r.Outcome == currents.Mapped {
				out = append(out, r.Track)
			}
		}
	}
	return out
}

// BenchmarkValidate is the per-message check the output makes before
// sending. Reported per message.
func BenchmarkValidate(b *testing.B) {
	msgs := benchTracks(b, 1000)
	var bytesTotal int
	for _, m := range msgs {
		bytesTotal += len(m)
	}
	b.SetBytes(int64(bytesTotal / len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Validate(msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSend delivers batches of 250 mapped tracks (the output's default
// batch) to a loopback server that reads and discards each request. Reported
// per message; the server's own work is included.
func BenchmarkSend(b *testing.B) {
	msgs := messages("bench-key", benchTracks(b, 1000)[:250])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	defer srv.Close()
	s, err := NewSender(Config{Endpoint: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += len(msgs) {
		for _, err := range s.Send(context.Background(), msgs) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
