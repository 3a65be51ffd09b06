package segmenttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// sized returns a track message whose JSON encoding is exactly n bytes.
func sized(t *testing.T, id string, n int) json.RawMessage {
	t.Helper()
	base := fmt.Sprintf(`{"type":"track","messageId":%q,"event":"E","userId":"u","properties":{"pad":""}}`, id)
	pad := n - len(base)
	if pad < 0 {
		t.Fatalf("cannot build a %d-byte message", n)
	}
	msg := strings.Replace(base, `"pad":""`, `"pad":"`+strings.Repeat("x", pad)+`"`, 1)
	if len(msg) != n {
		t.Fatalf("built %d bytes, want %d", len(msg), n)
	}
	return json.RawMessage(msg)
}

func batchBody(msgs ...json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"batch": msgs, "sentAt": testSentAt})
	return b
}

func tinyMessages(n int) []json.RawMessage {
	msgs := make([]json.RawMessage, n)
	for i := range msgs {
		msgs[i] = json.RawMessage(fmt.Sprintf(`{"type":"track","messageId":"m%d"}`, i))
	}
	return msgs
}

func TestLimits(t *testing.T) {
	// Twenty messages of 30,000 bytes: each under MaxMessageBytes, together
	// over MaxBatchBytes.
	var heavy []json.RawMessage
	for i := range 20 {
		heavy = append(heavy, sized(t, fmt.Sprint("h", i), 30000))
	}
	cases := []struct {
		name   string
		path   string
		body   []byte
		status int
		count  int
	}{
		{"invalid JSON", "/v1/batch", []byte(`{"batch":[`), http.StatusBadRequest, 0},
		{"empty body", "/v1/batch", nil, http.StatusBadRequest, 0},
		{"not an object", "/v1/batch", []byte(`[1,2]`), http.StatusBadRequest, 0},
		{"no batch", "/v1/batch", []byte(`{"sentAt":"x"}`), http.StatusBadRequest, 0},
		{"message not an object", "/v1/batch", []byte(`{"batch":[{"messageId":"a"},7]}`), http.StatusBadRequest, 0},
		{"track invalid JSON", "/v1/track", []byte(`{"messageId":`), http.StatusBadRequest, 0},
		{"empty batch", "/v1/batch", []byte(`{"batch":[]}`), http.StatusOK, 0},
		{"message at limit", "/v1/batch", batchBody(sized(t, "ok", MaxMessageBytes)), http.StatusOK, 1},
		{"message over limit", "/v1/batch", batchBody(sized(t, "a", 100), sized(t, "big", MaxMessageBytes+1)), http.StatusBadRequest, 0},
		{"track over limit", "/v1/track", sized(t, "big", MaxMessageBytes+1), http.StatusBadRequest, 0},
		{"body over limit", "/v1/batch", batchBody(heavy...), http.StatusBadRequest, 0},
		{"messages at limit", "/v1/batch", batchBody(tinyMessages(MaxBatchMessages)...), http.StatusOK, MaxBatchMessages},
		{"messages over limit", "/v1/batch", batchBody(tinyMessages(MaxBatchMessages + 1)...), http.StatusBadRequest, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "body over limit" && len(c.body) <= MaxBatchBytes {
				t.Fatalf("test body is only %d bytes", len(c.body))
			}
			if len(c.body) > MaxBatchBytes && c.status == http.StatusOK {
				t.Fatalf("test body of %d bytes is over the body limit", len(c.body))
			}
			rc := startReceiver(t, Config{})
			r := mustPost(t, rc.URL(), c.path, "k", c.body)
			wantStatus(t, r, c.status)
			if c.status != http.StatusOK {
				var e struct{ Error string }
				if json.Unmarshal([]byte(r.body), &e) != nil || e.Error == "" {
					t.Fatalf("error body %q", r.body)
				}
			}
			if rc.Count() != c.count {
				t.Fatalf("Count %d, want %d", rc.Count(), c.count)
			}
		})
	}
}

func TestReceiverRequestLimitAnswers413(t *testing.T) {
	rc := New(Config{MaxRequestBytes: 200})
	srv := httptest.NewServer(rc)
	defer srv.Close()
	post := func(body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/batch", strings.NewReader(body))
		req.SetBasicAuth("k", "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	small := `{"batch":[{"type":"track","event":"e","userId":"u","messageId":"s"}]}`
	big := `{"batch":[{"type":"track","event":"e","userId":"u","messageId":"b","properties":{"p":"` + strings.Repeat("x", 300) + `"}}]}`
	if got := post(small); got != http.StatusOK {
		t.Fatalf("small request: %d", got)
	}
	if got := post(big); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("request over the limit: %d, want 413", got)
	}
	if ids := rc.MessageIDs(); len(ids) != 1 || ids[0] != "s" {
		t.Fatalf("accepted %v", ids)
	}
}
