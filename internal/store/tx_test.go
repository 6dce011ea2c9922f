package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBeforeCommit: the work added with BeforeCommit runs in the
// transaction after its own, in the order added (one may add another),
// and its error rolls the whole transaction back. Outside a transaction
// nothing is added or kept.
func TestBeforeCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, _ := storetest.NewOrganization(t, db, "Acme")
		var ran []string
		err := db.InTx(ctx, func(q *store.Queries) error {
			q.SetTxValue("key", 7)
			q.BeforeCommit(func(ctx context.Context) error {
				ran = append(ran, "first")
				q.BeforeCommit(func(context.Context) error { ran = append(ran, "added by first"); return nil })
				// Still in the transaction: what it writes commits with it.
				_, err := q.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{OrganizationID: org, URL: "https://kept.example/",
					Events: []string{"*"}, Secret: "whsec_a2VwdA=="})
				return err
			})
			q.BeforeCommit(func(context.Context) error { ran = append(ran, "second"); return nil })
			ran = append(ran, "work")
			if v := q.TxValue("key"); v != 7 {
				t.Errorf("kept value %v", v)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"work", "first", "second", "added by first"}; !slices.Equal(ran, want) {
			t.Errorf("ran %v, want %v", ran, want)
		}
		if n, _ := db.Read().CountWebhookEndpoints(ctx, org); n != 1 {
			t.Errorf("%d endpoints after the commit, want 1", n)
		}

		failed := errors.New("refused")
		err = db.InTx(ctx, func(q *store.Queries) error {
			if _, err := q.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{OrganizationID: org, URL: "https://undone.example/",
				Events: []string{"*"}, Secret: "whsec_dW5kb25l"}); err != nil {
				return err
			}
			q.BeforeCommit(func(context.Context) error { return failed })
			return nil
		})
		if !errors.Is(err, failed) {
			t.Errorf("transaction error %v, want %v", err, failed)
		}
		if n, _ := db.Read().CountWebhookEndpoints(ctx, org); n != 1 {
			t.Errorf("%d endpoints after the rollback, want 1", n)
		}

		q := db.Read()
		if q.BeforeCommit(func(context.Context) error { return nil }) {
			t.Error("BeforeCommit outside a transaction took the work")
		}
		q.SetTxValue("key", 7)
		if v := q.TxValue("key"); v != nil {
			t.Errorf("outside a transaction kept %v", v)
		}
	})
}
