package web

import (
	"net/http"
	"strconv"

	"github.com/mailschool/mailschool/internal/problem"
)

// listJSON is a list the API answers: a page of items, and the cursor of
// the next page ("" on the last).
type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// listOf is page (of pages) of items as the API lists them, each turned
// into its JSON by toJSON; no items is [], not null.
func listOf[T, J any](items []T, page, pages int, toJSON func(T) J) listJSON[J] {
	out := listJSON[J]{Items: make([]J, 0, len(items))}
	for _, item := range items {
		out.Items = append(out.Items, toJSON(item))
	}
	if page < pages {
		out.NextCursor = strconv.Itoa(page + 1)
	}
	return out
}

// cursorPage reads the page number that a list's cursor carries.
func cursorPage(r *http.Request) (int, error) {
	c := r.URL.Query().Get("cursor")
	if c == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(c)
	if err != nil || n < 1 {
		return 0, problem.New(problem.Malformed, "invalid_cursor", "The cursor is not one this API gave out.")
	}
	return n, nil
}

// listAfter is a page of a list that continues below an id (newest
// first): its items, and next, the id whose cursor gives the following
// page, 0 on the last.
func listAfter[T, J any](items []T, next int64, toJSON func(T) J) listJSON[J] {
	out := listJSON[J]{Items: make([]J, 0, len(items))}
	for _, item := range items {
		out.Items = append(out.Items, toJSON(item))
	}
	if next > 0 {
		out.NextCursor = strconv.FormatInt(next, 10)
	}
	return out
}

// cursorID reads the id that a list continuing below an id carries in
// its cursor; 0 for the first page.
func cursorID(r *http.Request) (int64, error) {
	c := r.URL.Query().Get("cursor")
	if c == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(c, 10, 64)
	if err != nil || id < 1 {
		return 0, problem.New(problem.Malformed, "invalid_cursor", "The cursor is not one this API gave out.")
	}
	return id, nil
}

// queryID reads an optional id from the query string: 0 when absent, a
// field error when it is not a positive integer.
func queryID(r *http.Request, name, code, message string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, problem.Field(name, code, message)
	}
	return id, nil
}
