package experiment

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkAnalyze reads the golden main data set (about 4,100 lines) and
// computes the result; lines/s is the figure for sizing warehouse exports.
func BenchmarkAnalyze(b *testing.B) {
	exposures, err := os.ReadFile(filepath.Join("testdata", "golden", "main.exposures.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	events, err := os.ReadFile(filepath.Join("testdata", "golden", "main.events.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Count(exposures, []byte("\n")) + bytes.Count(events, []byte("\n"))
	b.SetBytes(int64(len(exposures) + len(events)))
	for b.Loop() {
		c := NewCollector(Options{Flag: "workbook", Metric: "purchase", Control: "classic"})
		if err := c.ReadExposures(Input{Name: "e", R: bytes.NewReader(exposures)}); err != nil {
			b.Fatal(err)
		}
		if err := c.ReadEvents(Input{Name: "m", R: bytes.NewReader(events)}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Result(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
