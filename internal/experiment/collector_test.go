package experiment

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestResultBetweenAdds checks that asking for a result while units are
// still arriving (as the server's daily results do) leaves the final
// result bit for bit what one collector fed everything at once gives: the
// sums depend on the units' order.
func TestResultBetweenAdds(t *testing.T) {
	opts := Options{Flag: "f", Metric: "m", Control: "a"}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	type exposure struct {
		key, variant string
		at           time.Time
	}
	var exps []exposure
	for i := range 2000 {
		exps = append(exps, exposure{fmt.Sprintf("u-%d", rng.IntN(1500)), []string{"a", "b"}[i%2], start.Add(time.Duration(i) * time.Minute)})
	}
	feed := func(c *Collector, es []exposure) {
		for _, e := range es {
			c.AddExposure(Exposure{Flag: "f", Key: e.key, Variant: e.variant, Time: e.at})
		}
	}
	events := func(c *Collector) {
		for i := range 1500 {
			c.AddEvents("m", fmt.Sprintf("u-%d", i), start.Add(48*time.Hour), rng.Float64()*10, 1)
		}
	}
	whole := NewCollector(opts)
	feed(whole, exps)
	rng = rand.New(rand.NewPCG(3, 4))
	events(whole)
	want, err := whole.Result()
	if err != nil {
		t.Fatal(err)
	}

	parts := NewCollector(opts)
	for i := 0; i < len(exps); i += 300 {
		feed(parts, exps[i:min(i+300, len(exps))])
		if _, err := parts.Result(); err != nil && i > 0 {
			t.Fatalf("after %d exposures: %v", i+300, err)
		}
	}
	rng = rand.New(rand.NewPCG(3, 4))
	events(parts)
	got, err := parts.Result()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("result after results in between:\n%+v\nwant\n%+v", got, want)
	}
}
