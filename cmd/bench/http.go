package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// Braze's custom HTTP connector posts about 100 events per request and keeps
// several requests in flight: the load every HTTP pipeline is driven with.
const (
	brazeBatchEvents = 100
	brazeConcurrency = 8
	benchToken       = "bench-token"
)

// httpInput is braze_currents as the HTTP pipelines configure it, on the
// address the harness gives in BENCH_INPUT_ADDRESS.
const brazeCurrentsInput = "input:\n  braze_currents:\n    address: ${BENCH_INPUT_ADDRESS}\n    path: /currents\n    bearer_token: " + benchToken + "\n"

// httpServerInput is what a Benthos user without this project runs: core's
// http_server, answering once the request's messages are acknowledged
// (timeout raised so a slow output is not cut off at 5 s), then the envelope
// split into one message per event.
const httpServerInput = "input:\n  http_server:\n    address: ${BENCH_INPUT_ADDRESS}\n    path: /currents\n    timeout: 60s\n"

const splitEnvelope = "    - mapping: root = this.events\n    - unarchive:\n        format: json_array\n"

// loadResult is what driving a pipeline took: the time from the first
// request to the last answer, and the requests answered 429 or 503 and sent
// again, as Braze does.
type loadResult struct {
	start    time.Time
	elapsed  time.Duration
	requests int
	retried  int
}

// driveHTTP posts the fixture's events to url in Braze's batches, with
// Braze's concurrency, until every request was answered 2xx. The events are
// read from the file as they are sent, so a million events never sit in
// the harness's memory.
func driveHTTP(url, eventsPath string) (loadResult, error) {
	f, err := os.Open(eventsPath)
	if err != nil {
		return loadResult{}, err
	}
	defer f.Close()
	bodies := make(chan []byte, brazeConcurrency)
	readErr := make(chan error, 1)
	go func() {
		defer close(bodies)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var b bytes.Buffer
		n := 0
		flush := func() {
			b.WriteString("]}")
			bodies <- bytes.Clone(b.Bytes())
			b.Reset()
			n = 0
		}
		for sc.Scan() {
			if n == 0 {
				b.WriteString(`{"events":[`)
			} else {
				b.WriteByte(',')
			}
			b.Write(sc.Bytes())
			if n++; n == brazeBatchEvents {
				flush()
			}
		}
		if n > 0 {
			flush()
		}
		readErr <- sc.Err()
	}()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: brazeConcurrency}, Timeout: 2 * time.Minute}
	var (
		mu      sync.Mutex
		res     loadResult
		firstEr error
		wg      sync.WaitGroup
	)
	res.start = time.Now()
	for range brazeConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range bodies {
				retried, err := postUntilAccepted(client, url, body)
				mu.Lock()
				res.requests++
				res.retried += retried
				if err != nil && firstEr == nil {
					firstEr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(res.start)
	if err := <-readErr; err != nil {
		return res, err
	}
	return res, firstEr
}

// postUntilAccepted posts body until it is answered 2xx, waiting out a 429
// or 503 as Braze does (Retry-After, at most a second here).
func postUntilAccepted(client *http.Client, url string, body []byte) (retried int, err error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return retried, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+benchToken)
		req.Header.Set("Braze-Currents-Version", "1")
		resp, err := client.Do(req)
		if err != nil {
			return retried, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			return retried, nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
			if attempt > 1000 {
				return retried, fmt.Errorf("POST %s: still %d after %d attempts", url, resp.StatusCode, attempt)
			}
			retried++
			wait := 50 * time.Millisecond
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = min(time.Duration(s)*time.Second, time.Second)
			}
			time.Sleep(wait)
		default:
			return retried, fmt.Errorf("POST %s: %s", url, resp.Status)
		}
	}
}

// waitHTTPReady waits until the input takes requests: braze_currents's
// /ready answers 200 once the pipeline behind it is up; core's http_server
// has no readiness endpoint, so for it the port accepting connections is
// all there is to wait for.
func waitHTTPReady(addr string, readyPath string, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("the pipeline exited before it took requests")
		default:
		}
		if readyPath == "" {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				return nil
			}
		} else if resp, err := http.Get("http://" + addr + readyPath); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not take requests within 30 s", addr)
}
