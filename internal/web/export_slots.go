package web

import (
	"fmt"
	"sync"

	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// Exports read a whole organization, or a whole table of one, and hold a
// read connection while the client takes its time: a node runs at most
// exportsPerNode of them at once, and exportsPerCaller for one account or
// key, so that one caller cannot take them all.
const (
	exportsPerNode   = 6
	exportsPerCaller = 2
)

// exportSlots counts the exports running on this node, in all and by
// caller.
type exportSlots struct {
	mu       sync.Mutex
	running  int
	byCaller map[string]int
}

// errExportsBusy answers an export over either limit.
var errExportsBusy = problem.New(problem.Throttled, "too_many_exports",
	"Too many downloads are running. Wait for one to finish, then try again.")

// take claims a slot for the caller of a request, or answers
// errExportsBusy; release gives it back.
func (e *exportSlots) take(u *store.User) (release func(), err error) {
	caller := exportCaller(u)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running >= exportsPerNode || e.byCaller[caller] >= exportsPerCaller {
		return nil, errExportsBusy
	}
	if e.byCaller == nil {
		e.byCaller = map[string]int{}
	}
	e.running++
	e.byCaller[caller]++
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.running--
		if e.byCaller[caller]--; e.byCaller[caller] == 0 {
			delete(e.byCaller, caller)
		}
	}, nil
}

// exportCaller names who asks: the account, or the API key.
func exportCaller(u *store.User) string {
	if u == nil {
		return ""
	}
	if u.APIKey != nil {
		return fmt.Sprintf("key:%d", u.APIKey.KeyID)
	}
	return fmt.Sprintf("user:%d", u.ID)
}
