package segmenttest

import "net/http"

// receivedReport is the body of GET /received.
type receivedReport struct {
	Count      int       `json:"count"`
	Duplicates int       `json:"duplicates"`
	Messages   []Message `json:"messages"`
}

// serveReceived lets a person or a script outside the Go process (the demo)
// see what arrived. It needs no write key: the receiver is a local tool.
func (rc *Receiver) serveReceived(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	rc.store.mu.Lock()
	rep := receivedReport{
		Count:      rc.store.count,
		Duplicates: rc.store.dups,
		Messages:   append(make([]Message, 0, len(rc.store.messages)), rc.store.messages...),
	}
	rc.store.mu.Unlock()
	writeJSON(w, http.StatusOK, rep)
}

// serveHealth answers liveness probes from scripts waiting for the receiver.
func (rc *Receiver) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
