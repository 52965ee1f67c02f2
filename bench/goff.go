package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	ffclient "github.com/thomaspoignant/go-feature-flag"
	"github.com/thomaspoignant/go-feature-flag/ffcontext"
)

// GOFF is GO Feature Flag's Go module evaluating in process, its flags file
// handed over by an in-memory retriever (the file retriever minus the disk).
// GO Feature Flag has no reusable segments, so a segment's query is inlined
// into every rule that uses it.
type GOFF struct {
	ff    *ffclient.GoFeatureFlag
	names []string
}

// memRetriever is a retriever.Retriever serving a document from memory.
type memRetriever []byte

func (m memRetriever) Retrieve(context.Context) ([]byte, error) { return m, nil }

// goffConfig writes the scenarios as a GO Feature Flag flags file (JSON).
func goffConfig() ([]byte, error) {
	segs := map[string]string{}
	for _, s := range segments() {
		segs[s.name] = goffQuery(s.conds, nil)
	}
	doc := map[string]any{}
	for _, f := range allFlags() {
		vars := f.variantMap()
		def := map[string]any{"variation": f.def}
		if f.rollout > 0 {
			def = map[string]any{"percentage": map[string]float64{"true": float64(f.rollout), "false": float64(100 - f.rollout)}}
		}
		var targeting []map[string]any
		for i, r := range f.rules {
			targeting = append(targeting, map[string]any{
				"name": fmt.Sprintf("r%02d", i+1), "query": goffQuery(r.conds, segs), "variation": r.value,
			})
		}
		flag := map[string]any{"variations": vars, "defaultRule": def}
		if targeting != nil {
			flag["targeting"] = targeting
		}
		doc[f.name] = flag
	}
	return json.Marshal(doc)
}

// goffQuery writes conds in GO Feature Flag's query language (nikunjy/rules).
func goffQuery(cs []cond, segs map[string]string) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		switch c.op {
		case opSegment:
			parts[i] = "(" + segs[c.seg] + ")"
		case opEq:
			if c.isInt() {
				parts[i] = fmt.Sprintf("%s eq %d", c.attr, c.num)
			} else {
				parts[i] = fmt.Sprintf("%s eq %s", c.attr, strconv.Quote(c.strs[0]))
			}
		case opIn:
			quoted := make([]string, len(c.strs))
			for j, s := range c.strs {
				quoted[j] = strconv.Quote(s)
			}
			parts[i] = fmt.Sprintf("%s in [%s]", c.attr, strings.Join(quoted, ","))
		case opGt:
			parts[i] = fmt.Sprintf("%s gt %d", c.attr, c.num)
		case opLt:
			parts[i] = fmt.Sprintf("%s lt %d", c.attr, c.num)
		case opGe:
			parts[i] = fmt.Sprintf("%s ge %d", c.attr, c.num)
		}
	}
	return strings.Join(parts, " and ")
}

// NewGOFF starts GO Feature Flag on the scenarios' flags file.
func NewGOFF() (*GOFF, error) {
	doc, err := goffConfig()
	if err != nil {
		return nil, err
	}
	ff, err := ffclient.New(ffclient.Config{
		PollingInterval: time.Hour,
		Retriever:       memRetriever(doc),
		FileFormat:      "json",
		Context:         context.Background(),
	})
	if err != nil {
		return nil, err
	}
	g := &GOFF{ff: ff}
	for _, f := range allFlags() {
		g.names = append(g.names, f.name)
	}
	return g, nil
}

func goffContext(t *Target) ffcontext.Context {
	return ffcontext.NewEvaluationContextBuilder(t.Key).
		AddCustom(attrCountry, t.Country).
		AddCustom(attrPlan, t.Plan).
		AddCustom(attrSeats, t.Seats).
		AddCustom(attrAge, t.Age).
		AddCustom(attrSchoolID, t.SchoolID).
		Build()
}

func (g *GOFF) bool(flag string, t *Target) bool {
	v, _ := g.ff.BoolVariation(flag, goffContext(t), false)
	return v
}

func (g *GOFF) NoRules(t *Target) bool   { return g.bool(flagNoRules, t) }
func (g *GOFF) Targeting(t *Target) bool { return g.bool(flagTargeting, t) }
func (g *GOFF) Rollout(t *Target) bool   { return g.bool(flagRollout, t) }
func (g *GOFF) Close()                   { g.ff.Close() }

// All is GO Feature Flag's bulk evaluation (AllFlagsState, what its relay
// proxy serves to front ends).
func (g *GOFF) All(t *Target, out *Answers) {
	state := g.ff.AllFlagsState(goffContext(t))
	flags := state.GetFlags()
	for i, name := range g.names {
		switch v := flags[name].Value.(type) {
		case bool:
			out[i] = boolAnswer(v)
		case string:
			out[i] = v
		default:
			out[i] = fmt.Sprint(v)
		}
	}
}
