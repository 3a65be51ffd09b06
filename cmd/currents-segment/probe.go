package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"time"

	"github.com/urfave/cli/v2"
)

// probeCommand is the container image's health check: the runtime image
// (distroless) has no shell and no curl, so the binary checks its own
// endpoints. It exits 0 when GET URL answers 200 and 1 otherwise, saying why
// on stderr, which is what Docker's HEALTHCHECK and any exec probe read.
func probeCommand() *cli.Command {
	return &cli.Command{
		Name:      "probe",
		Usage:     "Exit 0 when GET URL answers 200, 1 otherwise (a health check for images without curl)",
		ArgsUsage: "URL",
		Description: `Sends one GET to URL, e.g. http://127.0.0.1:8080/ready (the braze_currents
input's readiness, 503 while starting or draining) or http://127.0.0.1:4195/ping
(Benthos's liveness). Exits 0 on a 200 answer, 1 on any other status, a refused
connection or a timeout, and prints the reason to stderr.`,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Second, Usage: "give up on the request after this long"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("probe: want exactly one URL argument, e.g. currents-segment probe http://127.0.0.1:8080/ready")
			}
			return probe(c.Context, c.Args().First(), c.Duration("timeout"))
		},
	}
}

// probe returns nil when GET url answers 200 within timeout, and an error
// naming the URL and what went wrong otherwise.
func probe(ctx context.Context, url string, timeout time.Duration) error {
	if timeout <= 0 {
		return fmt.Errorf("probe: --timeout must be positive, got %s", timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	// A fresh transport with no proxy: the probe asks the process next to
	// it, and an HTTP_PROXY in the container's environment must not send
	// the request elsewhere.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the method and URL: keep only its cause.
		var uerr *neturl.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("probe: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	// The body says why a readiness check fails (e.g. "draining"); a few
	// hundred bytes are enough for the health log.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe: GET %s answered %s: %q", url, resp.Status, body)
	}
	return nil
}
