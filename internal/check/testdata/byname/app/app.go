// Package app reads flags through OpenFeature, by name.
package app

import (
	"context"

	of "github.com/open-feature/go-sdk/openfeature"
)

const searchFlag = "search_backend"

// Search reads search_backend through a named constant.
func Search(ctx context.Context, c *of.Client) string {
	return c.String(ctx, searchFlag, "elastic", of.EvaluationContext{})
}

// PageSize reads page_size by a literal, through the client interface.
func PageSize(ctx context.Context, c of.IClient) int64 {
	d, _ := c.IntValueDetails(ctx, "page_size", 20, of.EvaluationContext{})
	return d.Value
}

// Dynamic reads a flag whose name is only known at run time: not counted.
func Dynamic(ctx context.Context, c *of.Client, name string) bool {
	return c.Boolean(ctx, name, false, of.EvaluationContext{})
}
