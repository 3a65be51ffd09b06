package brazehttp

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Invalid chunked transfer encoding is the sender's mistake: 400, never
// 503 (which Braze would resend for 24 hours). net/http's client cannot
// send it, so the request is written over TCP.
func TestHandlerInvalidChunkedEncoding(t *testing.T) {
	f := newFixture(t, smallLimits, true)
	head := "POST /currents HTTP/1.1\r\nHost: braze\r\nAuthorization: Bearer " + testToken + "\r\n" +
		"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
	for name, body := range map[string]string{
		"chunk length not hex":                 "zz\r\n{\"events\":[]}\r\n0\r\n\r\n",
		"bare LF":                              "d\n{\"events\":[]}\n0\n\n",
		"chunk longer than sent, then garbage": "3\r\n{\"events\":[]}\r\n0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			a := rawPost(t, f.srv, head, body)
			if a.status != 400 || !strings.Contains(a.body["error"].(string), "invalid chunked transfer encoding") {
				t.Fatalf("answer %s", a)
			}
		})
	}
	// The same framing, well formed, is accepted.
	a := rawPost(t, f.srv, head, "d\r\n{\"events\":[]}\r\n0\r\n\r\n")
	if a.status != 200 {
		t.Fatalf("valid chunked: %s", a)
	}
	// A body cut off by the connection is the network's failure, not the
	// sender's: no answer can be read, and nothing is counted as 400.
	conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(conn, "POST /currents HTTP/1.1\r\nHost: braze\r\nAuthorization: Bearer "+testToken+"\r\nContent-Length: 100\r\n\r\n{\"events\":[")
	_ = conn.(*net.TCPConn).CloseWrite()
	_, _ = io.ReadAll(conn)
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.obs.mu.Lock()
		n503, n400 := f.obs.statuses["503"], f.obs.statuses["400"]
		f.obs.mu.Unlock()
		if n503 == 1 {
			if n400 != 3 { // the three invalid ones above
				t.Fatalf("400s: %d", n400)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a body cut off by the connection: statuses %v", f.obs.statuses)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
