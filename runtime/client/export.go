package client

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// JSONLinesExporter writes each event as one JSON object per line
// (application/x-ndjson) to a writer, typically a file a log shipper tails.
type JSONLinesExporter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	c   io.Closer // nil: the writer is not ours to close
	buf []byte
}

// NewJSONLinesExporter writes to w; the caller keeps ownership of w.
func NewJSONLinesExporter(w io.Writer) *JSONLinesExporter {
	return &JSONLinesExporter{w: bufio.NewWriterSize(w, 64<<10)}
}

// OpenJSONLinesFile appends to the file at path, creating it.
func OpenJSONLinesFile(path string) (*JSONLinesExporter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	e := NewJSONLinesExporter(f)
	e.c = f
	return e, nil
}

// Export writes a batch and flushes it, so a batch is on disk or failed.
func (e *JSONLinesExporter) Export(_ context.Context, events []Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range events {
		e.buf = append(events[i].AppendJSON(e.buf[:0]), '\n')
		if _, err := e.w.Write(e.buf); err != nil {
			return err
		}
	}
	return e.w.Flush()
}

// Close flushes and closes the file it opened.
func (e *JSONLinesExporter) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.w.Flush()
	if e.c != nil {
		if cerr := e.c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// HTTPExporter POSTs each batch as JSON lines (application/x-ndjson; at
// most 1,000 lines and 1 MiB a POST) with a Vexil-Batch-Id header, random per batch and the same on each retry, so a
// collector that remembers ids stores a retried batch once (a vexil
// server's POST .../events does). It retries a batch that failed on the
// network, 429 or 5xx with backoff within the export timeout.
//
// Given as ExposureOptions.Exporter with an empty URL and a server source,
// it sends to that server's events endpoint with the source's token and
// names.
type HTTPExporter struct {
	URL     string
	Header  http.Header // added to every request (e.g. Authorization)
	Client  *http.Client
	Retries int // extra attempts after a failure (default 2)
	buf     bytes.Buffer
	line    []byte
	src     *serverSource // set for the server source's endpoint
}

// bindServer points an HTTPExporter without a URL at the server source's
// events endpoint.
func (h *HTTPExporter) bindServer(s *serverSource) {
	h.URL, h.src = s.path("events"), s
	if h.Client == nil {
		h.Client = s.opts.HTTPClient
	}
}

// The most lines and bytes one POST carries (the server's limits are
// larger); a bigger batch goes as several.
const (
	maxPostLines = 1000
	maxPostBytes = 1 << 20
)

// Export sends a batch, as one POST or several; a 2xx answer is success.
func (h *HTTPExporter) Export(ctx context.Context, events []Event) error {
	h.buf.Reset()
	lines := 0
	for i := range events {
		h.line = append(events[i].AppendJSON(h.line[:0]), '\n')
		if lines > 0 && (lines == maxPostLines || h.buf.Len()+len(h.line) > maxPostBytes) {
			if err := h.send(ctx); err != nil {
				return err
			}
			h.buf.Reset()
			lines = 0
		}
		h.buf.Write(h.line)
		lines++
	}
	if lines == 0 {
		return nil
	}
	return h.send(ctx)
}

// send POSTs the buffered lines under one batch id, retrying.
func (h *HTTPExporter) send(ctx context.Context) error {
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	retries := h.Retries
	if retries <= 0 {
		retries = 2
	}
	var id [16]byte
	crand.Read(id[:])
	batch := hex.EncodeToString(id[:])
	var err error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 && !sleep(ctx, fullJitter(attempt, 100*time.Millisecond, 5*time.Second)) {
			break
		}
		var retry bool
		if retry, err = h.post(ctx, client, batch); err == nil || !retry {
			return err
		}
	}
	return err
}

// post sends the batch once; retry says whether another attempt may
// succeed.
func (h *HTTPExporter) post(ctx context.Context, client *http.Client, batch string) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(h.buf.Bytes()))
	if err != nil {
		return false, err
	}
	for k, vs := range h.Header {
		req.Header[k] = vs
	}
	if s := h.src; s != nil {
		req.Header.Set("Authorization", "Bearer "+s.opts.Token)
		s.identify(req.Header)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Vexil-Batch-Id", batch)
	resp, err := client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
			fmt.Errorf("event collector answered %s", resp.Status)
	}
	return false, nil
}
