package store_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestCertificates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollmentFixture(t, db)
		completed := time.Date(2026, 5, 4, 10, 30, 0, 123456789, time.FixedZone("CEST", 2*3600))

		var ada, bob store.Enrollment
		f.tx(t, func(q *store.Queries) error {
			for _, dst := range []struct {
				e     *store.Enrollment
				email string
			}{{&ada, "ada@example.com"}, {&bob, "bob@example.com"}} {
				l, err := q.SaveLearner(ctx, f.orgA, dst.email)
				if err != nil {
					return err
				}
				if *dst.e, _, err = q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.orgA, CourseID: f.courseA,
					LearnerID: l.ID, Status: store.EnrollmentActive, At: completed}); err != nil {
					return err
				}
			}
			return nil
		})

		issue := func(q *store.Queries, e store.Enrollment, number string) (store.Certificate, bool, error) {
			return q.CreateCertificate(ctx, store.NewCertificate{OrganizationID: f.orgA, EnrollmentID: e.ID, Number: number,
				CourseTitle: "Go basics", OrganizationName: "Acme", CompletedAt: completed})
		}
		var first store.Certificate
		f.tx(t, func(q *store.Queries) error {
			c, created, err := issue(q, ada, "NUMBER-ONE")
			if err != nil || !created {
				t.Fatalf("issue: created %v, %v", created, err)
			}
			first = c
			// The enrollment's certificate exists: the same one comes back.
			again, created, err := issue(q, ada, "NUMBER-TWO")
			if err != nil || created || !reflect.DeepEqual(again, c) {
				t.Errorf("issue again: %+v, created %v, %v", again, created, err)
			}
			// A taken number is a conflict, and the transaction goes on.
			if _, _, err := issue(q, bob, "NUMBER-ONE"); !errors.Is(err, store.ErrConflict) {
				t.Errorf("a taken number: %v, want ErrConflict", err)
			}
			_, created, err = issue(q, bob, "NUMBER-BOB")
			if err != nil || !created {
				t.Errorf("issue after a taken number: created %v, %v", created, err)
			}
			return nil
		})
		if first.Claimed() || first.LearnerName != "" || first.LearnerEmail != "ada@example.com" || first.CourseID != f.courseA || first.QRPNG != nil || !first.CompletedAt.Equal(completed.Truncate(time.Microsecond)) ||
			first.CompletedAt.Location() != time.UTC || first.CourseTitle != "Go basics" || first.OrganizationName != "Acme" {
			t.Errorf("issued: %+v", first)
		}

		// A claim sets the name and the QR code once.
		png := []byte("\x89PNG not really")
		claimedAt := time.Now()
		f.tx(t, func(q *store.Queries) error {
			if ok, err := q.ClaimCertificate(ctx, f.orgB, first.ID, "Mallory", png, claimedAt); ok || err != nil {
				t.Errorf("claimed through another organization: %v, %v", ok, err)
			}
			if ok, err := q.ClaimCertificate(ctx, f.orgA, first.ID, "Ada Lovelace", png, claimedAt); !ok || err != nil {
				t.Fatalf("claim: %v, %v", ok, err)
			}
			if ok, err := q.ClaimCertificate(ctx, f.orgA, first.ID, "Someone Else", []byte("other"), claimedAt); ok || err != nil {
				t.Errorf("claimed twice: %v, %v", ok, err)
			}
			return nil
		})
		got, err := db.Read().CertificateByNumber(ctx, "NUMBER-ONE")
		if err != nil || !got.Claimed() || got.LearnerName != "Ada Lovelace" || !bytes.Equal(got.QRPNG, png) || got.EnrollmentID != ada.ID {
			t.Errorf("after the claim: %+v, %v", got, err)
		}
		if _, err := db.Read().CertificateByNumber(ctx, "number-one"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a number in another case: %v", err)
		}
		if _, err := db.Read().CertificateOfEnrollment(ctx, f.orgB, ada.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the certificate through another organization: %v", err)
		}

		// Deleting the course removes its enrollments and their certificates.
		f.tx(t, func(q *store.Queries) error { return q.DeleteCourse(ctx, f.orgA, f.courseA) })
		if _, err := db.Read().CertificateByNumber(ctx, "NUMBER-ONE"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a certificate of a deleted course: %v", err)
		}
	})
}
