package brazehttp

import "time"

// Observer receives measurements; the Benthos input turns them into
// metrics. Methods are called from many goroutines.
type Observer interface {
	// Answered is called once per request to the Currents path with the
	// status answered (one of Statuses) and the time from arrival to answer.
	Answered(status string, latency time.Duration)
	// Received is called with the event count of each batch handed to the
	// consumer.
	Received(events int)
	// InFlight is called, in order, with the requests and the events held
	// whenever they change.
	InFlight(requests, events int)
}

// StatusClientClosed is the status label of a request whose client went
// away before it was answered.
const StatusClientClosed = "client_closed"

// Statuses lists every status label Observer.Answered reports, so that a
// consumer can create its counters at zero before the first request.
var Statuses = []string{"200", "400", "401", "405", "413", "415", "429", "503", StatusClientClosed}

type nopObserver struct{}

func (nopObserver) Answered(string, time.Duration) {}
func (nopObserver) Received(int)                   {}
func (nopObserver) InFlight(int, int)              {}
