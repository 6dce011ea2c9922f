package learning

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// MaxReportDays is the longest range a report covers: a year, leap day
// included.
const MaxReportDays = 366

// ReportRanges are the ranges the Reports page offers, in days ending
// today.
var ReportRanges = []int{30, 90, 365}

// ReportRange is a range of UTC days, both ends included.
type ReportRange struct {
	From, To time.Time // midnight UTC
}

// Days is the number of days in the range.
func (r ReportRange) Days() int { return int(r.To.Sub(r.From).Hours()/24) + 1 }

// Previous is the range of as many days just before r.
func (r ReportRange) Previous() ReportRange {
	n := r.Days()
	return ReportRange{From: r.From.AddDate(0, 0, -n), To: r.From.AddDate(0, 0, -1)}
}

// LastDays is the range of n days ending on today's UTC date.
func LastDays(n int, now time.Time) ReportRange {
	to := now.UTC().Truncate(24 * time.Hour)
	return ReportRange{From: to.AddDate(0, 0, 1-n), To: to}
}

// ParseReportRange reads a range from dates written YYYY-MM-DD: both
// empty is the last 30 days, a missing from is 30 days up to to, a
// missing to is today. A bad date, an end before the start or a range
// over MaxReportDays is a Malformed problem naming the field.
func ParseReportRange(from, to string, now time.Time) (ReportRange, error) {
	r := LastDays(30, now)
	var err error
	if to != "" {
		if r.To, err = time.Parse(time.DateOnly, to); err != nil {
			return ReportRange{}, rangeProblem("to", "invalid_date", "The end of the range is not a date written YYYY-MM-DD.")
		}
		r.From = r.To.AddDate(0, 0, -29)
	}
	if from != "" {
		if r.From, err = time.Parse(time.DateOnly, from); err != nil {
			return ReportRange{}, rangeProblem("from", "invalid_date", "The start of the range is not a date written YYYY-MM-DD.")
		}
	}
	if r.To.Before(r.From) {
		return ReportRange{}, rangeProblem("to", "range_reversed", "The end of the range comes before its start.")
	}
	if r.Days() > MaxReportDays {
		return ReportRange{}, rangeProblem("to", "range_too_long", fmt.Sprintf("A report covers at most %d days.", MaxReportDays))
	}
	return r, nil
}

func rangeProblem(field, code, message string) error {
	return &problem.Error{Kind: problem.Malformed, Code: code, Message: message, Fields: map[string]string{field: message}}
}

// ActivityMetrics are the enrollment metrics the organization report
// shows per day, in order.
var ActivityMetrics = []string{MetricStarted, MetricConfirmed, string(store.EnrollmentCompleted), string(store.EnrollmentUnsubscribed)}

// ActivityDay is one day's enrollment counts, by ActivityMetrics.
type ActivityDay struct {
	Day    time.Time
	Counts []int
}

// MailDay is one day's email counts, all kinds together.
type MailDay struct {
	Day                   time.Time
	Sent, Failed, Retried int
	// Bounced counts hard and soft bounces recorded that day; Complaints,
	// the emails reported as spam.
	Bounced, Complaints int
}

// MailKindCounts are the emails of one kind over a range.
type MailKindCounts struct {
	Kind                  string
	Sent, Failed, Retried int
}

// Activity is what happened in an organization over a range of days.
type Activity struct {
	orgs.View
	Range ReportRange
	Days  []ActivityDay // every day of the range, oldest first
	// Totals and Previous are the sums over the range and over as many
	// days before it, by ActivityMetrics.
	Totals, Previous []int
	MailDays         []MailDay
	MailKinds        []MailKindCounts // by kind
}

// ActivityBetween is Activity over the range that from and to write
// (ParseReportRange), read after the permission: a bad range on the
// report of an organization one may not see is still 404 or 403.
func (s *Service) ActivityBetween(ctx context.Context, actor *store.User, orgID int64, from, to string, now time.Time) (Activity, error) {
	if _, err := orgs.Authorize(ctx, s.db.Read(), actor, orgID, access.ViewOrganization); err != nil {
		return Activity{}, err
	}
	r, err := ParseReportRange(from, to, now)
	if err != nil {
		return Activity{}, err
	}
	return s.Activity(ctx, actor, orgID, r)
}

// activitySums are what Activity adds up on each day: ActivityMetrics,
// then the emails sent, failed and retried (every kind), bounced (every
// kind of bounce, complaints included) and complaints.
var activitySums = func() []store.DailySum {
	var sums []store.DailySum
	for _, m := range ActivityMetrics {
		sums = append(sums, store.DailySum{Metric: m})
	}
	return append(sums, store.DailySum{Metric: store.MailMetricSent, Prefix: true}, store.DailySum{Metric: store.MailMetricFailed, Prefix: true},
		store.DailySum{Metric: store.MailMetricRetried, Prefix: true}, store.DailySum{Metric: store.BounceMetric, Prefix: true},
		store.DailySum{Metric: store.BounceMetric + "complaint"})
}()

// Activity reads an organization's per-day counters over a range and the
// range before it, for anyone who may see the organization.
func (s *Service) Activity(ctx context.Context, actor *store.User, orgID int64, r ReportRange) (Activity, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization)
	if err != nil {
		return Activity{}, err
	}
	// Each day's sums over the range, the activity's over the range
	// before (compared, only they), and each metric's over the range (the
	// kinds of email), added up by the database.
	prev := r.Previous()
	days, err := q.DailySums(ctx, orgID, store.ReportDay(r.From), store.ReportDay(r.To), activitySums)
	if err != nil {
		return Activity{}, err
	}
	before, err := q.DailySums(ctx, orgID, store.ReportDay(prev.From), store.ReportDay(prev.To), activitySums[:len(ActivityMetrics)])
	if err != nil {
		return Activity{}, err
	}
	totals, err := q.MetricTotals(ctx, orgID, store.ReportDay(r.From), store.ReportDay(r.To))
	if err != nil {
		return Activity{}, err
	}
	a := Activity{View: v, Range: r, Totals: make([]int, len(ActivityMetrics)), Previous: make([]int, len(ActivityMetrics))}
	index := map[string]int{}
	for i := range r.Days() {
		day := r.From.AddDate(0, 0, i)
		index[store.ReportDay(day)] = i
		a.Days = append(a.Days, ActivityDay{Day: day, Counts: make([]int, len(ActivityMetrics))})
		a.MailDays = append(a.MailDays, MailDay{Day: day})
	}
	for _, d := range before {
		for m := range ActivityMetrics {
			a.Previous[m] += d.Sums[m]
		}
	}
	for _, d := range days {
		i, inRange := index[d.Day]
		if !inRange {
			continue
		}
		for m := range ActivityMetrics {
			a.Days[i].Counts[m] = d.Sums[m]
			a.Totals[m] += d.Sums[m]
		}
		mail := d.Sums[len(ActivityMetrics):]
		a.MailDays[i].Sent, a.MailDays[i].Failed, a.MailDays[i].Retried = mail[0], mail[1], mail[2]
		a.MailDays[i].Bounced, a.MailDays[i].Complaints = mail[3]-mail[4], mail[4]
	}
	kinds := map[string]*MailKindCounts{}
	for _, t := range totals {
		prefix, kind, ok := strings.Cut(t.Metric, ":")
		if !ok || prefix+":" == store.BounceMetric {
			continue
		}
		k := kinds[kind]
		if k == nil {
			k = &MailKindCounts{Kind: kind}
			kinds[kind] = k
		}
		switch prefix + ":" {
		case store.MailMetricSent:
			k.Sent += t.N
		case store.MailMetricFailed:
			k.Failed += t.N
		case store.MailMetricRetried:
			k.Retried += t.N
		}
	}
	for _, k := range kinds {
		a.MailKinds = append(a.MailKinds, *k)
	}
	sort.Slice(a.MailKinds, func(i, j int) bool { return a.MailKinds[i].Kind < a.MailKinds[j].Kind })
	return a, nil
}

// FunnelItem is one content item of a course with what its learners did.
type FunnelItem struct {
	store.ContentItem
	Received     int // enrollments it was sent to (first sends)
	Answered     int // quizzes: enrollments that answered (first answers)
	Passed       int // quizzes: passing answers
	Failed       int // quizzes: enrollments failed on it
	Unsubscribed int // learners who unsubscribed after it
	Quiz         *QuizStats
}

// UnsubscribeShare is the share of those who received the item that
// unsubscribed after it, in percent; 0 when none received it.
func (f FunnelItem) UnsubscribeShare() float64 {
	if f.Received == 0 {
		return 0
	}
	return 100 * float64(f.Unsubscribed) / float64(f.Received)
}

// QuizStats are the statistics of a quiz's answers.
type QuizStats struct {
	Attempts int
	Passed   int
	// Scores is the histogram of scores by tenths: 0–9, 10–19, ... 90–100.
	Scores [10]int
	// Wrong are the questions answered wrong most often, most first (at
	// most five): an answer is wrong unless it earns the whole point.
	Wrong []WrongQuestion
}

// PassRate is passes / attempts in percent; 0 without attempts.
func (q QuizStats) PassRate() float64 {
	if q.Attempts == 0 {
		return 0
	}
	return 100 * float64(q.Passed) / float64(q.Attempts)
}

// WrongQuestion is a quiz question and how often it was answered wrong.
type WrongQuestion struct {
	QuestionID int64
	Text       string
	Wrong      int
}

// FunnelStep is one step of a course's funnel: an item received, a quiz
// answered, or passed.
type FunnelStep struct {
	Label     string // "received “Welcome”"
	ContentID int64
	Learners  int
}

// CourseFunnel is the report of one course.
type CourseFunnel struct {
	Org    orgs.View
	Course store.Course
	Items  []FunnelItem
	Steps  []FunnelStep
	// Loss names the step that loses the most learners, in a sentence;
	// empty when none is lost.
	Loss string
}

// MostWrongShown is how many of a quiz's most missed questions the report
// names.
const MostWrongShown = 5

// CourseFunnel reads a course's item counters: its funnel and quiz
// statistics, for anyone who may see the organization.
func (s *Service) CourseFunnel(ctx context.Context, actor *store.User, orgID, courseID int64) (CourseFunnel, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization)
	if err != nil {
		return CourseFunnel{}, err
	}
	c, err := q.Course(ctx, orgID, courseID)
	if errors.Is(err, store.ErrNotFound) {
		return CourseFunnel{}, ErrCourseNotFound
	}
	if err != nil {
		return CourseFunnel{}, err
	}
	contents, err := q.CourseContents(ctx, orgID, courseID)
	if err != nil {
		return CourseFunnel{}, err
	}
	counts, err := q.ItemCounts(ctx, orgID, courseID)
	if err != nil {
		return CourseFunnel{}, err
	}
	byItem := map[int64]map[string]int{}
	for _, ct := range counts {
		if byItem[ct.ContentID] == nil {
			byItem[ct.ContentID] = map[string]int{}
		}
		byItem[ct.ContentID][ct.Metric] += ct.N
	}
	f := CourseFunnel{Org: v, Course: c}
	for _, item := range contents {
		m := byItem[item.ID]
		fi := FunnelItem{ContentItem: item, Received: m[ItemReceived], Answered: m[ItemAnswered], Passed: m[ItemPassed],
			Failed: m[ItemFailed], Unsubscribed: m[ItemUnsubscribed]}
		if !item.Published && fi.Received == 0 {
			continue // never part of what learners saw
		}
		f.Steps = append(f.Steps, FunnelStep{Label: "received “" + item.Title + "”", ContentID: item.ID, Learners: fi.Received})
		if item.Kind == store.KindQuiz {
			fi.Quiz = quizStats(item, m)
			f.Steps = append(f.Steps,
				FunnelStep{Label: "answered “" + item.Title + "”", ContentID: item.ID, Learners: fi.Answered},
				FunnelStep{Label: "passed “" + item.Title + "”", ContentID: item.ID, Learners: fi.Passed})
		}
		f.Items = append(f.Items, fi)
	}
	f.Loss = biggestLoss(f.Steps)
	return f, nil
}

func quizStats(item store.ContentItem, m map[string]int) *QuizStats {
	st := &QuizStats{Attempts: m[ItemAttempts], Passed: m[ItemPassed]}
	for tenth := 0; tenth <= 10; tenth++ {
		st.Scores[min(tenth, 9)] += m[ItemScorePrefix+strconv.Itoa(tenth)]
	}
	for _, qu := range item.Questions {
		if n := m[ItemWrongPrefix+strconv.FormatInt(qu.ID, 10)]; n > 0 {
			st.Wrong = append(st.Wrong, WrongQuestion{QuestionID: qu.ID, Text: qu.Text, Wrong: n})
		}
	}
	sort.SliceStable(st.Wrong, func(i, j int) bool { return st.Wrong[i].Wrong > st.Wrong[j].Wrong })
	if len(st.Wrong) > MostWrongShown {
		st.Wrong = st.Wrong[:MostWrongShown]
	}
	return st
}

// biggestLoss names the step after which the most learners go no
// further, in a sentence.
func biggestLoss(steps []FunnelStep) string {
	best, lost := -1, 0
	for i := 1; i < len(steps); i++ {
		if d := steps[i-1].Learners - steps[i].Learners; d > lost {
			best, lost = i, d
		}
	}
	if best < 0 {
		return ""
	}
	from := steps[best-1]
	return fmt.Sprintf("The most learners are lost between %s and %s: %d of %d (%.0f%%) go no further.",
		from.Label, steps[best].Label, lost, from.Learners, 100*float64(lost)/float64(from.Learners))
}

// CourseUnsubscribes are the items of one course with the share of their
// learners who unsubscribed after each.
type CourseUnsubscribes struct {
	CourseID int64
	Title    string
	Items    []store.ItemUnsubscribes
}

// Unsubscribes lists, course by course, the items sent and the learners
// who unsubscribed after each, for anyone who may see the organization.
func (s *Service) Unsubscribes(ctx context.Context, actor *store.User, orgID int64) ([]CourseUnsubscribes, error) {
	q := s.db.Read()
	if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization); err != nil {
		return nil, err
	}
	items, err := q.Unsubscribes(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var list []CourseUnsubscribes
	for _, it := range items {
		if len(list) == 0 || list[len(list)-1].CourseID != it.CourseID {
			list = append(list, CourseUnsubscribes{CourseID: it.CourseID, Title: it.CourseTitle})
		}
		list[len(list)-1].Items = append(list[len(list)-1].Items, it)
	}
	return list, nil
}
