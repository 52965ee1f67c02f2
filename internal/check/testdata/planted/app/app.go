// Package app calls the accessors in every way the check must see through.
package app

import (
	"context"

	"example.com/planted/flags"
)

type Service struct{ Flags *flags.Flags }

// themer is satisfied by flags.View: a call through it is a use of theme.
type themer interface{ Theme() flags.Theme }

func pick(t themer) flags.Theme { return t.Theme() }

// wrapped embeds the View: a promoted call is a use of soon_flag.
type wrapped struct{ flags.View }

// decoy has a method named like an accessor; calling it is not a use.
type decoy struct{}

func (decoy) UnusedFlag() bool { return true }

func (s *Service) Handle(ctx context.Context, t flags.Target) int {
	v := s.Flags.For(ctx, t)
	n := 0
	if v.NewFlow() || v.ExpiredFlag() || v.Ownerless() || v.Undescribed() || v.WeirdKind() {
		n++
	}
	if v.OldFlow() { // want: deprecated-use
		n++
	}
	_ = v.RetiredDetails() // want: deprecated-use
	//vexil:ignore deprecated-use the report service still reads it
	_ = v.Retired()
	_ = v.Retired() // vexil:ignore unused waives only what it names: want: deprecated-use
	if pick(v) == flags.ThemeDark {
		n++
	}
	if (wrapped{v}).SoonFlag() {
		n++
	}
	size := v.PageSize // a method value is a use of page_size
	if (decoy{}).UnusedFlag() {
		n += size()
	}
	return n
}
