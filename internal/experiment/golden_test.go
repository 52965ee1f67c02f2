package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// GoldenCase is one case of testdata/golden/cases.json, whose expected
// figures scipy computed (testdata/golden/generate.py).
type GoldenCase struct {
	Name       string  `json:"name"`
	Data       string  `json:"data"`
	Flag       string  `json:"flag"`
	Metric     string  `json:"metric"`
	Aggregate  string  `json:"aggregate"`
	Control    string  `json:"control"`
	Allocation string  `json:"allocation"`
	WindowDays int     `json:"window_days"`
	Sequential bool    `json:"sequential"`
	Tuning     float64 `json:"tuning"`
	Expect     any     `json:"expect"`
}

func loadGolden(t *testing.T) []GoldenCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []GoldenCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func (c GoldenCase) options(t *testing.T) Options {
	o := Options{Flag: c.Flag, Metric: c.Metric, Aggregate: Aggregate(c.Aggregate), Control: c.Control,
		CovariateWindow: time.Duration(c.WindowDays) * 24 * time.Hour, Sequential: c.Sequential, Tuning: c.Tuning}
	if c.Allocation != "" {
		ws, err := ParseAllocation(c.Allocation)
		if err != nil {
			t.Fatal(err)
		}
		o.Allocation = ws
	}
	return o
}

// readGolden feeds a golden data set's exposures, then its events.
func readGolden(t *testing.T, c *Collector, data string) {
	t.Helper()
	for _, kind := range []string{"exposures", "events"} {
		name := filepath.Join("testdata", "golden", data+"."+kind+".jsonl")
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		read := c.ReadExposures
		if kind == "events" {
			read = c.ReadEvents
		}
		err = read(Input{Name: name, R: f})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestGoldenAgainstScipy checks every figure of every case against scipy's
// to 1e-9 relative, and the JSON shape member by member.
func TestGoldenAgainstScipy(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			col := NewCollector(c.options(t))
			readGolden(t, col, c.Data)
			res, err := col.Result()
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := res.WriteJSON(&buf); err != nil {
				t.Fatal(err)
			}
			var got any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for _, d := range CompareJSON(got, c.Expect, 1e-9) {
				t.Error(d)
			}
		})
	}
}

// CompareJSON lists the differences between two decoded JSON values: members
// must match exactly, numbers to rel relative (absolute near 0).
func CompareJSON(got, want any, rel float64) []string {
	var diffs []string
	var walk func(path string, g, w any)
	walk = func(path string, g, w any) {
		switch w := w.(type) {
		case map[string]any:
			gm, ok := g.(map[string]any)
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, want an object", path, g))
				return
			}
			for k := range gm {
				if _, ok := w[k]; !ok {
					diffs = append(diffs, fmt.Sprintf("%s.%s: unexpected member", path, k))
				}
			}
			for k, wv := range w {
				gv, ok := gm[k]
				if !ok {
					diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
					continue
				}
				walk(path+"."+k, gv, wv)
			}
		case []any:
			ga, ok := g.([]any)
			if !ok || len(ga) != len(w) {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", path, g, w))
				return
			}
			for i := range w {
				walk(fmt.Sprintf("%s[%d]", path, i), ga[i], w[i])
			}
		case float64:
			gf, ok := g.(float64)
			if !ok || !closeEnough(gf, w, rel) {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", path, g, w))
			}
		default:
			if g != w {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", path, g, w))
			}
		}
	}
	walk("", got, want)
	slices.Sort(diffs)
	return diffs
}

func closeEnough(a, b, rel float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b)) || math.Abs(a-b) < 1e-300
}

// TestSameBytesEveryRun: Go's map order changes from run to run, the
// figures must not, not even in the last bit.
func TestSameBytesEveryRun(t *testing.T) {
	var first []byte
	for range 5 {
		c := NewCollector(Options{Flag: "workbook", Metric: "purchase", Control: "classic", CovariateWindow: 14 * 24 * time.Hour})
		readGolden(t, c, "main")
		res, err := c.Result()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := res.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = buf.Bytes()
		} else if !bytes.Equal(first, buf.Bytes()) {
			t.Fatalf("two runs differ:\n%s\n%s", first, buf.Bytes())
		}
	}
}
