package graph

// This file will not be regenerated automatically.
//
// It serves as dependency injection for your app, add any dependencies you require here.

import "example.com/clean/flags"

type Resolver struct{ Flags *flags.Flags }

type User struct {
	ID   string
	Role flags.Role
}

func (u *User) Target() flags.Target { return flags.Target{UserID: u.ID, Role: u.Role} }
