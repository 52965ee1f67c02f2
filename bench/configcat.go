package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"

	configcat "github.com/configcat/go-sdk/v9"
)

// ConfigCat is ConfigCat's Go SDK in local-only mode: its flag overrides read
// a config file in ConfigCat's own full (v6) format, so targeting rules,
// segments and percentage options work as they do when downloaded, and the SDK
// never goes to the network. Strings compare with the cleartext "IS ONE OF"
// comparator, ints with the NUMBER comparators; a rollout is a percentage
// option on the user's identifier.
type ConfigCat struct {
	client *configcat.Client
	dir    string
	bools  map[string]configcat.BoolFlag
	all    []configcat.Flag
}

// configcatConfig writes the scenarios in ConfigCat's config format.
func configcatConfig() ([]byte, error) {
	segIndex := map[string]int{}
	var segs []*configcat.Segment
	for i, s := range segments() {
		segIndex[s.name] = i
		var conds []*configcat.UserCondition
		for _, c := range configcatConditions(s.conds, nil) {
			conds = append(conds, c.UserCondition)
		}
		segs = append(segs, &configcat.Segment{Name: s.name, Conditions: conds})
	}
	settings := map[string]*configcat.Setting{}
	for _, f := range allFlags() {
		value := func(v string) *configcat.SettingValue {
			if f.isBool() {
				return &configcat.SettingValue{Value: v == "true"}
			}
			return &configcat.SettingValue{Value: v}
		}
		s := &configcat.Setting{Type: configcat.StringSetting, Value: value(f.def)}
		if f.isBool() {
			s.Type = configcat.BoolSetting
		}
		if f.rollout > 0 {
			s.PercentageOptions = []*configcat.PercentageOption{
				{Percentage: int64(f.rollout), Value: value("true")},
				{Percentage: int64(100 - f.rollout), Value: value("false")},
			}
		}
		for _, r := range f.rules {
			s.TargetingRules = append(s.TargetingRules, &configcat.TargetingRule{
				Conditions:  configcatConditions(r.conds, segIndex),
				ServedValue: &configcat.ServedValue{Value: value(r.value)},
			})
		}
		settings[f.name] = s
	}
	return json.Marshal(&configcat.ConfigJson{Settings: settings, Segments: segs, Preferences: &configcat.Preferences{Salt: "bench"}})
}

func configcatConditions(cs []cond, segIndex map[string]int) []*configcat.Condition {
	out := make([]*configcat.Condition, len(cs))
	for i, c := range cs {
		attr := c.attrIn("Identifier")
		num := float64(c.num)
		u := &configcat.UserCondition{ComparisonAttribute: attr}
		switch c.op {
		case opSegment:
			out[i] = &configcat.Condition{SegmentCondition: &configcat.SegmentCondition{Index: segIndex[c.seg], Comparator: configcat.OpSegmentIsIn}}
			continue
		case opEq:
			if c.isInt() {
				u.Comparator, u.DoubleValue = configcat.OpEqNum, &num
			} else {
				u.Comparator, u.StringArrayValue = configcat.OpOneOf, c.strs
			}
		case opIn:
			u.Comparator, u.StringArrayValue = configcat.OpOneOf, slices.Clone(c.strs)
		case opGt:
			u.Comparator, u.DoubleValue = configcat.OpGreaterNum, &num
		case opLt:
			u.Comparator, u.DoubleValue = configcat.OpLessNum, &num
		case opGe:
			u.Comparator, u.DoubleValue = configcat.OpGreaterEqNum, &num
		}
		out[i] = &configcat.Condition{UserCondition: u}
	}
	return out
}

// NewConfigCat starts ConfigCat's SDK on the scenarios' config file.
func NewConfigCat() (*ConfigCat, error) {
	doc, dir, err := docAndDir(configcatConfig, "vexil-bench-configcat")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	client := configcat.NewCustomClient(configcat.Config{
		SDKKey:        "configcat-sdk-1/local-bench-0000000000/local-bench-0000000000",
		FlagOverrides: &configcat.FlagOverrides{Behavior: configcat.LocalOnly, FilePath: path},
		PollingMode:   configcat.Manual,
	})
	// With local-only overrides a refresh reads the overrides, never the network.
	if err := client.Refresh(context.Background()); err != nil {
		client.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	cc := &ConfigCat{client: client, dir: dir, bools: map[string]configcat.BoolFlag{}}
	for _, f := range allFlags() {
		if f.isBool() {
			b := configcat.Bool(f.name, f.def == "true")
			cc.bools[f.name] = b
			cc.all = append(cc.all, b)
		} else {
			cc.all = append(cc.all, configcat.String(f.name, f.def))
		}
	}
	return cc, nil
}

func configcatUser(t *Target) *configcat.UserData {
	return &configcat.UserData{
		Identifier: t.Key,
		Custom: map[string]any{
			attrCountry: t.Country, attrPlan: t.Plan,
			attrSeats: t.Seats, attrAge: t.Age, attrSchoolID: t.SchoolID,
		},
	}
}

func (cc *ConfigCat) bool(flag string, t *Target) bool {
	return cc.bools[flag].Get(cc.client.Snapshot(configcatUser(t)))
}

func (cc *ConfigCat) NoRules(t *Target) bool   { return cc.bool(flagNoRules, t) }
func (cc *ConfigCat) Targeting(t *Target) bool { return cc.bool(flagTargeting, t) }
func (cc *ConfigCat) Rollout(t *Target) bool   { return cc.bool(flagRollout, t) }

func (cc *ConfigCat) Close() {
	cc.client.Close()
	os.RemoveAll(cc.dir)
}

// All takes one snapshot for the user and reads every flag from it.
func (cc *ConfigCat) All(t *Target, out *Answers) {
	snap := cc.client.Snapshot(configcatUser(t))
	for i, f := range cc.all {
		switch v := f.GetValue(snap).(type) {
		case bool:
			out[i] = boolAnswer(v)
		case string:
			out[i] = v
		}
	}
}
