package web

import (
	"errors"
	"testing"

	"github.com/mailschool/mailschool/internal/store"
)

func TestExportSlots(t *testing.T) {
	var slots exportSlots
	alice, bob := &store.User{ID: 1}, &store.User{ID: 2}
	key := &store.User{APIKey: &store.KeyGrant{KeyID: 1}}

	// One caller holds at most exportsPerCaller; others still get theirs.
	var held []func()
	for range exportsPerCaller {
		release, err := slots.take(alice)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}
	if _, err := slots.take(alice); !errors.Is(err, errExportsBusy) {
		t.Fatalf("a third export for one caller: %v", err)
	}
	releaseKey, err := slots.take(key)
	if err != nil {
		t.Fatalf("an API key with the same id as the account: %v", err)
	}
	held = append(held, releaseKey)

	// The node holds at most exportsPerNode, whoever asks.
	for i := len(held); i < exportsPerNode; i++ {
		release, err := slots.take(&store.User{ID: int64(100 + i)})
		if err != nil {
			t.Fatalf("export %d: %v", i, err)
		}
		held = append(held, release)
	}
	if _, err := slots.take(bob); !errors.Is(err, errExportsBusy) {
		t.Fatalf("an export over the node's limit: %v", err)
	}

	// Each release gives its slot back.
	held[0]()
	if _, err := slots.take(bob); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := slots.take(alice); !errors.Is(err, errExportsBusy) {
		t.Fatal("the node is full again, yet alice got a slot")
	}
	for _, release := range held[1:] {
		release()
	}
	if slots.running != 1 || len(slots.byCaller) != 1 {
		t.Errorf("after every release but bob's: %d running, callers %v", slots.running, slots.byCaller)
	}
}
