package delivery_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// The report counters follow what happens: three learners start, one
// completes, one fails the quiz twice and one unsubscribes after the
// first lesson; the day's counters, the course's funnel and the quiz's
// statistics say so.
func TestReportCountersFollowWhatHappens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db) // lessons One and Two
		quiz := f.addQuiz("Check")
		three := f.addLesson("Three", 0)

		alice := f.enroll("alice@example.com")
		f.sendScheduled(alice)
		id, sig := quizLink(t, f.mails("alice@example.com", mail.KindQuiz)[0])
		f.answer(id, sig, right(quiz))
		f.sendScheduled(alice)

		bob := f.enroll("bob@example.com")
		f.sendScheduled(bob)
		id, sig = quizLink(t, f.mails("bob@example.com", mail.KindQuiz)[0])
		f.answer(id, sig, wrong(quiz))
		f.sendScheduled(bob)
		id, sig = quizLink(t, f.mails("bob@example.com", mail.KindQuiz)[1])
		f.answer(id, sig, map[int64][]int64{})

		carol := f.enroll("carol@example.com")
		f.deliver(f.deliveries(carol)[0].ID)
		link := strings.Split(strings.TrimPrefix(f.learning.UnsubscribeURL(carol), baseURL+"/email-learning/public/unsubscribe/"), "/")
		if _, err := f.learning.Unsubscribe(ctx, carol.ID, link[1]); err != nil {
			t.Fatal(err)
		}
		if f.status(alice) != store.EnrollmentCompleted || f.status(bob) != store.EnrollmentFailed || f.status(carol) != store.EnrollmentUnsubscribed {
			t.Fatalf("statuses: %s %s %s", f.status(alice), f.status(bob), f.status(carol))
		}

		act, err := f.learning.Activity(ctx, f.owner, f.org, learning.LastDays(30, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		today := act.Days[len(act.Days)-1].Counts
		// started, confirmed, completed, unsubscribed
		if want := []int{3, 3, 1, 1}; !equal(today, want) || !equal(act.Totals, want) || !equal(act.Previous, []int{0, 0, 0, 0}) {
			t.Errorf("today %v, totals %v, before %v; want %v", today, act.Totals, act.Previous, want)
		}
		counts, err := db.Read().DailyCounts(ctx, f.org, store.ReportDay(time.Now()), store.ReportDay(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if got := dailyMetric(counts, "failed"); got != 1 {
			t.Errorf("%d failed today, want 1", got)
		}

		fun, err := f.learning.CourseFunnel(ctx, f.owner, f.org, f.course)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, s := range fun.Steps {
			steps = append(steps, s.Label+"="+itoa(s.Learners))
		}
		want := `received “One”=3 received “Two”=2 received “Check”=2 answered “Check”=2 passed “Check”=1 received “Three”=1`
		if got := strings.Join(steps, " "); got != want {
			t.Errorf("funnel:\n got %s\nwant %s", got, want)
		}
		if want := "The most learners are lost between received “One” and received “Two”: 1 of 3 (33%) go no further."; fun.Loss != want {
			// One and answered→passed both lose one; the first is named.
			t.Errorf("loss: %q", fun.Loss)
		}
		byTitle := map[string]learning.FunnelItem{}
		for _, it := range fun.Items {
			byTitle[it.Title] = it
		}
		if byTitle["One"].Unsubscribed != 1 || byTitle["Check"].Failed != 1 || byTitle["Three"].Received != 1 || byTitle["Three"].ID != three.ID {
			t.Errorf("items: %+v", fun.Items)
		}
		st := byTitle["Check"].Quiz
		if st == nil || st.Attempts != 3 || st.Passed != 1 || st.Scores[0] != 1 || st.Scores[5] != 1 || st.Scores[9] != 1 {
			t.Fatalf("quiz statistics: %+v", st)
		}
		if len(st.Wrong) != 2 || st.Wrong[0].Text != "Which are even?" || st.Wrong[0].Wrong != 2 || st.Wrong[1].Wrong != 1 {
			t.Errorf("questions answered wrong: %+v", st.Wrong)
		}
	})
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func dailyMetric(counts []store.DailyCount, metric string) int {
	n := 0
	for _, c := range counts {
		if c.Metric == metric {
			n += c.N
		}
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }
