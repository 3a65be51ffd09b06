// Package brazehttp is the receiving end of Braze's custom HTTP Currents
// connector: an http.Handler that authenticates Braze's POSTs, reads their
// (optionally gzip-encoded) {"events":[...]} bodies within a size limit, hands
// each one to a consumer as a Delivery, and answers Braze only once the
// consumer resolved it, with the status Braze's retry policy needs:
//
//   - 200 only after the consumer resolved the delivery without error (every
//     event of the request was delivered);
//   - 503 with Retry-After when it failed, was not resolved within the ack
//     timeout, was not taken within the queue timeout, the connection failed
//     while the body was read, or the handler is not ready yet, draining or
//     closed; 429 with Retry-After past the in-flight limits on requests and
//     on events (Braze backs off and retries both);
//   - 401 for a missing or wrong bearer token, before the body is read;
//   - 413 past the body limit or the per-request event limit (Braze splits
//     the batch);
//   - 400 for a body the sender got wrong: not a Currents envelope, invalid
//     or truncated gzip, trailing data after the gzip stream, an empty gzip
//     body, invalid chunked encoding (Braze splits the batch and drops events
//     refused again), with a JSON body saying why; 405, 404 and 415 for
//     requests Braze never sends.
//
// Memory is bounded by what it admits: at most MaxInFlight bodies of at most
// MaxBodyBytes, and at most MaxInFlightEvents events, both held until the
// consumer resolved the delivery (see admission).
//
// The files follow the request: config.go (Config, its defaults and the rules
// New enforces), handler.go (the Handler and one request's path through it),
// auth.go, admission.go, body.go, envelope.go (the checks on that path),
// delivery.go (the hand-over to the consumer), respond.go (the answers),
// readiness.go (the probe and /ready), server.go (the listening socket),
// requestid.go, logging.go and observer.go (what the handler reports).
//
// It has no Benthos imports; plugin/input_braze_currents.go adapts it.
package brazehttp
