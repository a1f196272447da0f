package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LoadConfig says how to send a data set.
type LoadConfig struct {
	URL       string // server base URL
	Clients   int
	Gzip      bool
	Precision string // of the timestamps in the data (default ns)
	// Rate, when positive, paces the load at that many values per second
	// in total: batch i is due when the values before it would have been
	// sent at that rate, and its latency counts from then, so time spent
	// waiting behind a slow server counts as latency (no coordinated
	// omission). Zero sends as fast as the clients can.
	Rate float64
	// Progress, when set, is called about ten times a second with the
	// batches done so far.
	Progress func(done, total int)
}

// LoadResult is what a load measured.
type LoadResult struct {
	Batches, Lines, Values int
	Bytes                  int // request bodies sent (after gzip)
	Elapsed                time.Duration
	// Latency percentiles of the POSTs, each until its 204.
	P50, P90, P99, Max time.Duration
}

// RowsPerSec and ValuesPerSec are the throughput.
func (r *LoadResult) RowsPerSec() float64   { return float64(r.Lines) / r.Elapsed.Seconds() }
func (r *LoadResult) ValuesPerSec() float64 { return float64(r.Values) / r.Elapsed.Seconds() }

// Load sends every batch of d with cfg.Clients concurrent clients, in
// order of batch index (each client takes the next one). Any answer but
// 204 stops the load with an error naming the batch and the server's
// message.
func Load(ctx context.Context, d *Data, cfg LoadConfig) (*LoadResult, error) {
	prec := cfg.Precision
	if prec == "" {
		prec = "ns"
	}
	bodies := d.Batches
	sent := 0
	if cfg.Gzip {
		// Compress before the clock starts, as a client that keeps its
		// data compressed would.
		bodies = make([][]byte, len(d.Batches))
		for i, b := range d.Batches {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(b)
			zw.Close()
			bodies[i] = buf.Bytes()
		}
	}
	for _, b := range bodies {
		sent += len(b)
	}
	url := cfg.URL + "/api/v1/write?precision=" + prec
	clients := max(cfg.Clients, 1)
	tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()

	// due[i] is when batch i should start under cfg.Rate, from the
	// share of the data's bytes before it.
	due := make([]time.Duration, len(bodies))
	if cfg.Rate > 0 && d.Bytes > 0 {
		total := time.Duration(float64(d.Values) / cfg.Rate * float64(time.Second))
		before := 0
		for i, b := range d.Batches {
			due[i] = time.Duration(float64(total) * float64(before) / float64(d.Bytes))
			before += len(b)
		}
	}
	lat := make([]time.Duration, len(bodies))
	var next, done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	stopProgress := make(chan struct{})
	var pwg sync.WaitGroup
	if cfg.Progress != nil {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stopProgress:
					cfg.Progress(int(done.Load()), len(bodies))
					return
				case <-tick.C:
					cfg.Progress(int(done.Load()), len(bodies))
				}
			}
		}()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bodies[i]))
				if err != nil {
					fail(err)
					return
				}
				req.Header.Set("Content-Type", "text/plain")
				if cfg.Gzip {
					req.Header.Set("Content-Encoding", "gzip")
				}
				t0 := time.Now()
				if cfg.Rate > 0 {
					at := start.Add(due[i])
					if sleepUntil(ctx, at) != nil {
						return
					}
					t0 = at
				}
				resp, err := client.Do(req)
				if err != nil {
					fail(fmt.Errorf("batch %d: %w", i, err))
					return
				}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != http.StatusNoContent {
					fail(fmt.Errorf("batch %d: HTTP %d: %s", i, resp.StatusCode, bytes.TrimSpace(body)))
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	pwg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	res := &LoadResult{Batches: len(bodies), Lines: d.Lines, Values: d.Values, Bytes: sent, Elapsed: elapsed}
	res.P50, res.P90, res.P99, res.Max = percentiles(lat)
	return res, nil
}

// percentiles returns the 50th, 90th and 99th percentiles (nearest rank)
// and the maximum.
func percentiles(d []time.Duration) (p50, p90, p99, mx time.Duration) {
	if len(d) == 0 {
		return
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return rank(s, 0.50), rank(s, 0.90), rank(s, 0.99), s[len(s)-1]
}

// rank returns the nearest-rank p-quantile of sorted durations.
func rank(s []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
