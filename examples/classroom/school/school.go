// Package school is the classroom service's tiny user directory: who a
// request's viewer is, and how they look to the flag rules.
package school

import (
	"context"

	"github.com/vexilhq/vexil/examples/classroom/flags"
)

// User is a person the service knows. It is the GraphQL Viewer model.
type User struct {
	ID       string
	Name     string
	Role     flags.Role
	SchoolID int64
	Country  string
	Grades   []int64 // the grades a student is in or a teacher teaches
}

// Target is the user as flag rules see them. Every field of User is known,
// so every attribute is present; an anonymous request uses flags.Target{}.
func (u *User) Target() flags.Target {
	return flags.Target{
		UserID:   u.ID,
		Role:     u.Role,
		SchoolID: new(u.SchoolID),
		Country:  u.Country,
		Grades:   u.Grades,
	}
}

// Directory finds users by ID. It is read-only after it is made, so
// requests share it without locking.
type Directory struct {
	users map[string]*User
}

// NewDirectory returns a directory of users, keyed by their IDs.
func NewDirectory(users ...User) *Directory {
	d := &Directory{users: make(map[string]*User, len(users))}
	for _, u := range users {
		d.users[u.ID] = &u
	}
	return d
}

// Demo is the directory the example serves: two teachers and two students.
func Demo() *Directory {
	return NewDirectory(
		User{ID: "ms-smith", Name: "Ms Smith", Role: flags.RoleTeacher, SchoolID: 7, Country: "NZ", Grades: []int64{11, 12}},
		User{ID: "mr-jones", Name: "Mr Jones", Role: flags.RoleTeacher, SchoolID: 9, Country: "US", Grades: []int64{5}},
		User{ID: "sam", Name: "Sam", Role: flags.RoleStudent, SchoolID: 7, Country: "NZ", Grades: []int64{11}},
		User{ID: "ana", Name: "Ana", Role: flags.RoleStudent, SchoolID: 9, Country: "US", Grades: []int64{5}},
	)
}

// Lookup returns the user with id, or nil.
func (d *Directory) Lookup(id string) *User { return d.users[id] }

type viewerKey struct{}

// WithViewer returns ctx carrying the request's viewer (nil: anonymous).
func WithViewer(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, viewerKey{}, u)
}

// Viewer returns the request's viewer, or nil for an anonymous request.
func Viewer(ctx context.Context) *User {
	u, _ := ctx.Value(viewerKey{}).(*User)
	return u
}

// Target is the flag target of the request's viewer: flags.Target{} (every
// attribute absent) for an anonymous request.
func Target(ctx context.Context) flags.Target {
	if u := Viewer(ctx); u != nil {
		return u.Target()
	}
	return flags.Target{}
}
