// Command loadgen downloads one URL from many concurrent keep-alive clients and prints the
// latencies as JSON. scripts/bench_download.py runs it (`go run scripts/loadgen.go …`) so that the
// measurement is of the server: a Python client spends about as much CPU per request as the
// server does, and on a small machine it competes with the server for the same cores.
//
// Each client has its own connection (like one browser or one script of an inspector) that it
// keeps alive between requests; every response must be 200 and carry the expected
// X-Content-SHA256, and the whole body is read before the clock stops.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ", ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

type result struct {
	Requests   int       `json:"requests"`
	Failures   int       `json:"failures"`
	FirstError string    `json:"first_error,omitempty"`
	Seconds    float64   `json:"seconds"`
	Bytes      int64     `json:"bytes"`
	LatencyMs  []float64 `json:"latency_ms"`
	// Downloads per client: an uneven spread means some connections were served slower.
	PerClient []int `json:"per_client"`
	// Each client's first download, which includes opening its connection: a server that is
	// slow to take new connections shows here, not in the percentiles of the rest.
	FirstMs []float64 `json:"first_ms"`
}

func main() {
	url := flag.String("url", "", "URL to GET")
	clients := flag.Int("clients", 32, "concurrent clients, one keep-alive connection each")
	total := flag.Int("requests", 2000, "total requests over all clients")
	maxSeconds := flag.Float64("max-seconds", 120, "stop handing out requests after this long")
	sha := flag.String("sha256", "", "expected X-Content-SHA256 (empty: not checked)")
	var headers headerList
	flag.Var(&headers, "H", "request header 'Name: value' (repeatable)")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -url is required")
		os.Exit(2)
	}

	var left int64 = int64(*total)
	deadline := time.Now().Add(time.Duration(*maxSeconds * float64(time.Second)))
	var mu sync.Mutex
	res := result{}
	var wg sync.WaitGroup
	started := time.Now()
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{
				Timeout:   60 * time.Second,
				Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
			}
			var latencies []float64
			failures, bytes, firstError, first := 0, int64(0), "", -1.0
			for atomic.AddInt64(&left, -1) >= 0 && time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", *url, nil)
				for _, h := range headers {
					name, value, _ := strings.Cut(h, ":")
					req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failures++
					if firstError == "" {
						firstError = err.Error()
					}
					continue
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				elapsed := time.Since(t0)
				ok := err == nil && resp.StatusCode == 200 &&
					(*sha == "" || resp.Header.Get("X-Content-SHA256") == *sha)
				if !ok {
					failures++
					if firstError == "" {
						firstError = fmt.Sprintf("status %d, err %v", resp.StatusCode, err)
					}
					continue
				}
				bytes += n
				ms := float64(elapsed.Microseconds()) / 1000
				if first < 0 {
					first = ms
				}
				latencies = append(latencies, ms)
			}
			mu.Lock()
			res.LatencyMs = append(res.LatencyMs, latencies...)
			res.PerClient = append(res.PerClient, len(latencies))
			if first >= 0 {
				res.FirstMs = append(res.FirstMs, first)
			}
			res.Failures += failures
			res.Bytes += bytes
			if res.FirstError == "" {
				res.FirstError = firstError
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(started).Seconds()
	res.Requests = len(res.LatencyMs)
	sort.Float64s(res.LatencyMs)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
