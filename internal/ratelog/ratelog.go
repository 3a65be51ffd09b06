// Package ratelog is the one rate limit on log lines: a failure that repeats
// thousands of times a minute (a sender's mistake, an outage, a stream of
// refusals) is worth one line a minute at its level, the rest at DEBUG, and
// a count of what was held back. It has no logging of its own: callers ask
// whether a line is due and log it themselves.
package ratelog

import (
	"fmt"
	"sync"
	"time"
)

// Limiter lets one line per key through per interval. A zero interval lets
// the first line of each key through and no other: "log the first of each
// kind".
type Limiter struct {
	every time.Duration

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

// New returns a Limiter letting one line per key through every interval.
func New(every time.Duration) *Limiter {
	return &Limiter{every: every, last: map[string]time.Time{}, held: map[string]int{}}
}

// Every is the Limiter's interval.
func (l *Limiter) Every() time.Duration { return l.every }

// Allow reports whether a line for key is due now, and how many lines of
// key were held back since the last one let through.
func (l *Limiter) Allow(key string) (due bool, held int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, seen := l.last[key]; seen && (l.every == 0 || now.Sub(last) < l.every) {
		l.held[key]++
		return false, 0
	}
	l.last[key] = now
	held = l.held[key]
	delete(l.held, key)
	return true, held
}

// Note ends a line let through: how many like it were held back, and where
// the next ones go.
func (l *Limiter) Note(held int) string {
	if l.every == 0 {
		return " (further ones are logged at DEBUG)"
	}
	note := fmt.Sprintf(" (the next ones within %s are logged at DEBUG)", l.every.Round(time.Second))
	if held > 0 {
		note = fmt.Sprintf(" (%d more since the last one; the next ones within %s are logged at DEBUG)", held, l.every.Round(time.Second))
	}
	return note
}
