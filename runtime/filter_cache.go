package runtime

import (
	"sync"

	"github.com/vexilhq/vexil/internal/filter"
)

// maxCachedFilters bounds a FilterCache: twice the filters of the largest
// documents it is meant for.
const maxCachedFilters = 10_000

// FilterCache remembers parsed filters by their text across compiles, for a
// server that compiles the same large document again and again with a line
// or two changed: parsing 5,000 filters is a quarter of compiling them. A
// parse depends on the text alone and the compiler only reads the tree, so
// a tree is shared by every compile that meets its text; the diagnostics
// are placed by each compile from the cached offsets. The zero value is
// ready; it is safe for concurrent use.
type FilterCache struct {
	mu      sync.Mutex
	entries map[string]parsedFilter
}

type parsedFilter struct {
	expr filter.Expr
	errs []filter.SyntaxError
}

// parse is filter.ParseFilter(src), remembered.
func (fc *FilterCache) parse(src string) (filter.Expr, []filter.SyntaxError) {
	fc.mu.Lock()
	p, ok := fc.entries[src]
	fc.mu.Unlock()
	if ok {
		return p.expr, p.errs
	}
	e, errs := filter.ParseFilter(src)
	fc.mu.Lock()
	if fc.entries == nil || len(fc.entries) >= maxCachedFilters {
		fc.entries = map[string]parsedFilter{} // starting over is simpler than LRU and rare
	}
	fc.entries[src] = parsedFilter{expr: e, errs: errs}
	fc.mu.Unlock()
	return e, errs
}
