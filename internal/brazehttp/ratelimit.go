package brazehttp

import (
	"fmt"
	"sync"
	"time"
)

// rateLimitedLog lets one line through per interval and counts the rest, so
// a sender repeating the same mistake thousands of times a minute costs one
// WARN line a minute (the others go to DEBUG), not a flooded log.
type rateLimitedLog struct {
	every      time.Duration
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// log calls first with the number of lines suppressed since the previous
// one when a line is due, else rest.
func (l *rateLimitedLog) log(to Logger, first func(Logger, int), rest func(Logger)) {
	l.mu.Lock()
	now := time.Now()
	if l.last.IsZero() || now.Sub(l.last) >= l.every {
		n := l.suppressed
		l.last, l.suppressed = now, 0
		l.mu.Unlock()
		first(to, n)
		return
	}
	l.suppressed++
	l.mu.Unlock()
	rest(to)
}

// suppressedNote ends a rate-limited WARN line: how many were left out since
// the last one, and where the next ones go.
func suppressedNote(n int, every time.Duration) string {
	note := fmt.Sprintf("; the next ones within %s are logged at DEBUG", every)
	if n > 0 {
		note = fmt.Sprintf("; %d more since the last warning", n) + note
	}
	return note
}
