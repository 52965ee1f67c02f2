package client

import (
	"bufio"
	"bytes"
	"context"
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

// HTTPExporter POSTs each batch as JSON lines (application/x-ndjson) to a
// collector, retrying a failed POST with backoff within the export timeout.
type HTTPExporter struct {
	URL     string
	Header  http.Header // added to every request (e.g. Authorization)
	Client  *http.Client
	Retries int // extra attempts after a failure (default 2)
	buf     bytes.Buffer
}

// Export sends one batch; a 2xx answer is success.
func (h *HTTPExporter) Export(ctx context.Context, events []Event) error {
	h.buf.Reset()
	var line []byte
	for i := range events {
		line = append(events[i].AppendJSON(line[:0]), '\n')
		h.buf.Write(line)
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	retries := h.Retries
	if retries <= 0 {
		retries = 2
	}
	var err error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 && !sleep(ctx, fullJitter(attempt, 100*time.Millisecond, 5*time.Second)) {
			break
		}
		if err = h.post(ctx, client); err == nil {
			return nil
		}
	}
	return err
}

func (h *HTTPExporter) post(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(h.buf.Bytes()))
	if err != nil {
		return err
	}
	for k, vs := range h.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("exposure collector answered %s", resp.Status)
	}
	return nil
}
