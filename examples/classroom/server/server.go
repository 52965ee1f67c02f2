// Package server is the classroom service's HTTP layer: GraphQL at /graphql,
// with the viewer named by the X-User header.
package server

import (
	"fmt"
	"net/http"
	"os"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/vexilhq/vexil/examples/classroom/flags"
	"github.com/vexilhq/vexil/examples/classroom/graph"
	"github.com/vexilhq/vexil/examples/classroom/school"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// UserHeader names the request's viewer. A real service would take the
// user from a session; the header keeps the example about flags.
const UserHeader = "X-User"

// New returns the service's handler. src is where flag answers come from:
// anything that hands out the current compiled config (a *vexilrt.Holder,
// a vexil client kept fresh from the server).
func New(src vexilrt.ConfigSource, dir *school.Directory) http.Handler {
	gql := handler.New(graph.NewExecutableSchema(graph.Config{
		Resolvers: &graph.Resolver{Flags: flags.New(src)},
	}))
	gql.AddTransport(transport.GET{})
	gql.AddTransport(transport.POST{})
	gql.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	gql.Use(extension.Introspection{})

	mux := http.NewServeMux()
	mux.Handle("/graphql", withViewer(dir, gql))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	return mux
}

// withViewer puts the user X-User names into the request's context; a
// missing or unknown name makes an anonymous request.
func withViewer(dir *school.Directory, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := dir.Lookup(r.Header.Get(UserHeader)); u != nil {
			r = r.WithContext(school.WithViewer(r.Context(), u))
		}
		next.ServeHTTP(w, r)
	})
}

// RulesFile compiles a rules file against the definitions the flags
// package was generated from and holds the result. It is the example's
// config source until it reads from the vexil server.
func RulesFile(path string) (*vexilrt.Holder, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, diags := vexilrt.ParseRules(path, data)
	if diags.HasErrors() {
		return nil, fmt.Errorf("rules do not parse:\n%s", diags.Errors())
	}
	defs := flags.Definitions()
	cfg, diags := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: defs, Version: vexilrt.ContentVersion(doc, defs)})
	if cfg == nil {
		return nil, fmt.Errorf("rules do not compile:\n%s", diags.Errors())
	}
	return vexilrt.NewHolder(cfg), nil
}
