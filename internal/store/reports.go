package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// CourseReport counts a course's enrollments by status.
type CourseReport struct {
	CourseID int64
	Title    string
	Enabled  bool
	ByStatus map[string]int
}

// courseReportsQuery reads the counters that the triggers of migration
// 00029 keep on enrollments: a row per course and status, whatever the
// number of enrollments.
const courseReportsQuery = `
	SELECT c.id, c.title, c.enabled, COALESCE(ec.status, ''), COALESCE(ec.n, 0)
	FROM courses c LEFT JOIN enrollment_counts ec ON ec.organization_id = c.organization_id AND ec.course_id = c.id AND ec.n > 0
	WHERE c.organization_id = ?
	ORDER BY c.title_key, c.id, ec.status`

// CourseReports counts the enrollments of every course of an organization
// by status, courses by title.
func (q *Queries) CourseReports(ctx context.Context, orgID int64) ([]CourseReport, error) {
	rs, err := q.query(ctx, courseReportsQuery, orgID)
	if err != nil {
		return nil, fmt.Errorf("course reports of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []CourseReport
	for rs.Next() {
		var (
			id      int64
			title   string
			enabled bool
			status  string
			n       int
		)
		if err := rs.Scan(&id, &title, &enabled, &status, &n); err != nil {
			return nil, fmt.Errorf("course reports of organization %d: %w", orgID, err)
		}
		if len(list) == 0 || list[len(list)-1].CourseID != id {
			list = append(list, CourseReport{CourseID: id, Title: title, Enabled: enabled, ByStatus: map[string]int{}})
		}
		if status != "" {
			list[len(list)-1].ByStatus[status] = n
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("course reports of organization %d: %w", orgID, err)
	}
	return list, nil
}

// ReportDay is the UTC date a report counts t under, as report_daily
// stores it.
func ReportDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// CountDaily adds n to a metric of an organization's day (t's UTC date),
// in the transaction of what it counts, so that the counter never
// disagrees with what happened.
func (q *Queries) CountDaily(ctx context.Context, orgID int64, t time.Time, metric string, n int) error {
	if c := q.pendingCounts(); c != nil {
		c.daily[dailyCounter{orgID, ReportDay(t), metric}] += n
		return nil
	}
	return q.writeDaily(ctx, dailyCounter{orgID, ReportDay(t), metric}, n)
}

// CountItem adds n to a metric of a content item of a course, as
// CountDaily does.
func (q *Queries) CountItem(ctx context.Context, orgID, courseID, contentID int64, metric string, n int) error {
	if c := q.pendingCounts(); c != nil {
		c.items[itemCounter{orgID, courseID, contentID, metric}] += n
		return nil
	}
	return q.writeItem(ctx, itemCounter{orgID, courseID, contentID, metric}, n)
}

// A counter is a row that many transactions change: every completion of a
// course adds to the same ones. Written as soon as counted, its lock was
// held from there until the transaction committed, and concurrent
// transactions that count the same thing (a node's delivery batches) ran
// one after the other. So a transaction adds up what it counts and writes
// each counter once, last, just before it commits (countsAtCommit),
// in one order (by key), so that two never wait on each other in a circle.

type dailyCounter struct {
	orgID       int64
	day, metric string
}

type itemCounter struct {
	orgID, courseID, contentID int64
	metric                     string
}

// counts are the counters a transaction added to and not yet written.
type counts struct {
	daily map[dailyCounter]int
	items map[itemCounter]int
}

// pendingCounts returns q's transaction's counts, or nil outside a
// transaction.
func (q *Queries) pendingCounts() *counts {
	if q.sqlTx == nil && q.pgTx == nil {
		return nil
	}
	if q.counts == nil {
		q.counts = &counts{daily: map[dailyCounter]int{}, items: map[itemCounter]int{}}
	}
	return q.counts
}

// writeCounts writes the counts of q's transaction.
func (q *Queries) writeCounts(ctx context.Context) error {
	if q.counts == nil {
		return nil
	}
	c := q.counts
	q.counts = nil
	daily := slices.SortedFunc(maps.Keys(c.daily), func(a, b dailyCounter) int {
		return cmp.Or(cmp.Compare(a.orgID, b.orgID), strings.Compare(a.day, b.day), strings.Compare(a.metric, b.metric))
	})
	for _, k := range daily {
		if err := q.writeDaily(ctx, k, c.daily[k]); err != nil {
			return err
		}
	}
	items := slices.SortedFunc(maps.Keys(c.items), func(a, b itemCounter) int {
		return cmp.Or(cmp.Compare(a.orgID, b.orgID), cmp.Compare(a.courseID, b.courseID),
			cmp.Compare(a.contentID, b.contentID), strings.Compare(a.metric, b.metric))
	})
	for _, k := range items {
		if err := q.writeItem(ctx, k, c.items[k]); err != nil {
			return err
		}
	}
	return nil
}

// writeDaily and writeItem skip a counter whose organization or item is
// gone: written at commit, a count may follow the deletion of what it
// counts in the same transaction, which took its counters along.
func (q *Queries) writeDaily(ctx context.Context, k dailyCounter, n int) error {
	_, err := q.exec(ctx, `
		INSERT INTO report_daily (organization_id, day, metric, n)
		SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM organizations WHERE id = ?)
		ON CONFLICT (organization_id, day, metric) DO UPDATE SET n = report_daily.n + excluded.n`,
		k.orgID, k.day, k.metric, n, k.orgID)
	if err != nil {
		return fmt.Errorf("count %s of organization %d: %w", k.metric, k.orgID, err)
	}
	return nil
}

func (q *Queries) writeItem(ctx context.Context, k itemCounter, n int) error {
	_, err := q.exec(ctx, `
		INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
		SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM content_items WHERE id = ?)
		ON CONFLICT (organization_id, course_id, content_id, metric) DO UPDATE SET n = report_items.n + excluded.n`,
		k.orgID, k.courseID, k.contentID, k.metric, n, k.contentID)
	if err != nil {
		return fmt.Errorf("count %s of item %d: %w", k.metric, k.contentID, err)
	}
	return nil
}

// DailyCount is a metric's count on one day.
type DailyCount struct {
	Day    string // YYYY-MM-DD, UTC
	Metric string
	N      int
}

const dailyCountsQuery = `
	SELECT day, metric, n FROM report_daily
	WHERE organization_id = ? AND day >= ? AND day <= ?
	ORDER BY day, metric`

// DailyCounts returns an organization's counters from day from to day to
// (YYYY-MM-DD, both included), one by one: a range of the primary key.
// The reports add them up in the database instead (DailySums,
// MetricTotals).
func (q *Queries) DailyCounts(ctx context.Context, orgID int64, from, to string) ([]DailyCount, error) {
	rs, err := q.query(ctx, dailyCountsQuery, orgID, from, to)
	if err != nil {
		return nil, fmt.Errorf("daily counts of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []DailyCount
	for rs.Next() {
		var c DailyCount
		if err := rs.Scan(&c.Day, &c.Metric, &c.N); err != nil {
			return nil, fmt.Errorf("daily counts of organization %d: %w", orgID, err)
		}
		list = append(list, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("daily counts of organization %d: %w", orgID, err)
	}
	return list, nil
}

// DaySums are one day's sums of the metrics DailySums was asked for, in
// the order asked.
type DaySums struct {
	Day  string // YYYY-MM-DD, UTC
	Sums []int
}

// DailySum names what DailySums adds up on each day: the counts of one
// metric, or (Prefix) of every metric that starts with it ("mail_sent:",
// every kind of email).
type DailySum struct {
	Metric string
	Prefix bool
}

// dailySumsQuery adds up each of sums on each day, one CASE each.
func dailySumsQuery(sums []DailySum) (string, []any) {
	var cols []string
	var args []any
	for _, sum := range sums {
		if sum.Prefix {
			cols = append(cols, "CAST(SUM(CASE WHEN substr(metric, 1, ?) = ? THEN n ELSE 0 END) AS BIGINT)")
			args = append(args, len(sum.Metric), sum.Metric)
		} else {
			cols = append(cols, "CAST(SUM(CASE WHEN metric = ? THEN n ELSE 0 END) AS BIGINT)")
			args = append(args, sum.Metric)
		}
	}
	return `SELECT day, ` + strings.Join(cols, ", ") + ` FROM report_daily
		WHERE organization_id = ? AND day >= ? AND day <= ?
		GROUP BY day ORDER BY day`, args
}

// DailySums returns, for each day from from to to (YYYY-MM-DD, both
// included) that has counters, the sums asked for, added up by the
// database: a range of the primary key, of which only a row a day comes
// back (a year of a dozen metrics is thousands of counters, which cost
// more to hand over one by one than to add up).
func (q *Queries) DailySums(ctx context.Context, orgID int64, from, to string, sums []DailySum) ([]DaySums, error) {
	if len(sums) == 0 {
		return nil, fmt.Errorf("daily sums of organization %d: no sum asked for", orgID)
	}
	query, args := dailySumsQuery(sums)
	rs, err := q.query(ctx, query, append(args, orgID, from, to)...)
	if err != nil {
		return nil, fmt.Errorf("daily sums of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []DaySums
	dest := make([]any, 1+len(sums))
	for rs.Next() {
		d := DaySums{Sums: make([]int, len(sums))}
		dest[0] = &d.Day
		for i := range d.Sums {
			dest[1+i] = &d.Sums[i]
		}
		if err := rs.Scan(dest...); err != nil {
			return nil, fmt.Errorf("daily sums of organization %d: %w", orgID, err)
		}
		list = append(list, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("daily sums of organization %d: %w", orgID, err)
	}
	return list, nil
}

// MetricTotal is a metric's count over a range of days.
type MetricTotal struct {
	Metric string
	N      int
}

const metricTotalsQuery = `
	SELECT metric, CAST(SUM(n) AS BIGINT) FROM report_daily
	WHERE organization_id = ? AND day >= ? AND day <= ?
	GROUP BY metric ORDER BY metric`

// MetricTotals returns each metric's count over the days from from to to
// (both included), by metric.
func (q *Queries) MetricTotals(ctx context.Context, orgID int64, from, to string) ([]MetricTotal, error) {
	rs, err := q.query(ctx, metricTotalsQuery, orgID, from, to)
	if err != nil {
		return nil, fmt.Errorf("metric totals of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []MetricTotal
	for rs.Next() {
		var t MetricTotal
		if err := rs.Scan(&t.Metric, &t.N); err != nil {
			return nil, fmt.Errorf("metric totals of organization %d: %w", orgID, err)
		}
		list = append(list, t)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("metric totals of organization %d: %w", orgID, err)
	}
	return list, nil
}

// ItemCount is a metric of one content item.
type ItemCount struct {
	ContentID int64
	Metric    string
	N         int
}

const itemCountsQuery = `
	SELECT content_id, metric, n FROM report_items
	WHERE organization_id = ? AND course_id = ?
	ORDER BY content_id, metric`

// ItemCounts returns the counters of a course's items.
func (q *Queries) ItemCounts(ctx context.Context, orgID, courseID int64) ([]ItemCount, error) {
	rs, err := q.query(ctx, itemCountsQuery, orgID, courseID)
	if err != nil {
		return nil, fmt.Errorf("item counts of course %d: %w", courseID, err)
	}
	defer rs.Close()
	var list []ItemCount
	for rs.Next() {
		var c ItemCount
		if err := rs.Scan(&c.ContentID, &c.Metric, &c.N); err != nil {
			return nil, fmt.Errorf("item counts of course %d: %w", courseID, err)
		}
		list = append(list, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("item counts of course %d: %w", courseID, err)
	}
	return list, nil
}

// LastSentContent returns the content item of an enrollment's latest sent
// delivery: where a learner who unsubscribes stopped. ErrNotFound when
// nothing was sent.
func (q *Queries) LastSentContent(ctx context.Context, orgID, enrollmentID int64) (int64, error) {
	var id int64
	err := q.queryRow(ctx, `
		SELECT content_id FROM deliveries
		WHERE organization_id = ? AND enrollment_id = ? AND status = 'sent'
		ORDER BY id DESC LIMIT 1`, orgID, enrollmentID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("last content sent to enrollment %d: %w", enrollmentID, err)
	}
	return id, nil
}

// ReportPlans returns the plans of the report queries (the daily sums and
// the metrics' totals of a range, a course's item counters, the course table, the email
// report's unsubscribes, and the course report's course, items and quiz
// questions, whose missed ones it names): SQLite's, or
// PostgreSQL's for these values and its generic one.
func (db *DB) ReportPlans(ctx context.Context, orgID, courseID int64, from, to string) ([]QueryPlan, error) {
	// A sum of one metric and one of a prefix's: the others are alike.
	daySumsQuery, daySumsArgs := dailySumsQuery([]DailySum{{Metric: "started"}, {Metric: MailMetricSent, Prefix: true}})
	queries := []struct {
		name  string
		query string
		args  []any
	}{
		{"daily sums", daySumsQuery, append(daySumsArgs, orgID, from, to)},
		{"metric totals", metricTotalsQuery, []any{orgID, from, to}},
		{"item counts", itemCountsQuery, []any{orgID, courseID}},
		{"course reports", courseReportsQuery, []any{orgID}},
		{"unsubscribes", unsubscribesQuery, []any{orgID}},
		{"course", courseQuery, []any{orgID, courseID}},
		{"course contents", courseContentsQuery, []any{orgID, courseID}},
		{"course questions", quizQuestionsQuery + courseQuestionsCondition, []any{orgID, courseID}},
	}
	q := db.Read()
	var plans []QueryPlan
	for _, c := range queries {
		if db.dialect == SQLite {
			lines, err := sqlitePlan(ctx, q, c.query, c.args)
			if err != nil {
				return nil, err
			}
			plans = append(plans, QueryPlan{Name: "SQLite query plan of " + c.name, Lines: lines})
			continue
		}
		custom, err := textPlan(ctx, q, "EXPLAIN "+q.rebind(c.query), c.args...)
		if err != nil {
			return nil, err
		}
		generic, err := genericPlan(ctx, db, q.rebind(c.query), c.args)
		if err != nil {
			return nil, err
		}
		plans = append(plans, QueryPlan{Name: "PostgreSQL plan of " + c.name + " for these values", Lines: custom},
			QueryPlan{Name: "PostgreSQL generic plan of " + c.name, Lines: generic})
	}
	return plans, nil
}

// ItemUnsubscribes is how many learners received a content item and how
// many unsubscribed after it.
type ItemUnsubscribes struct {
	CourseID     int64
	CourseTitle  string
	ContentID    int64
	ContentTitle string
	Received     int
	Unsubscribed int
}

// UnsubscribeShare is the share of those who received the item that
// unsubscribed after it, in percent; 0 when nobody received it.
func (it ItemUnsubscribes) UnsubscribeShare() float64 {
	if it.Received == 0 {
		return 0
	}
	return 100 * float64(it.Unsubscribed) / float64(it.Received)
}

const unsubscribesQuery = `
	SELECT c.id, c.title, ci.id, ci.title, r.metric, r.n
	FROM report_items r
	JOIN content_items ci ON ci.id = r.content_id
	JOIN courses c ON c.id = r.course_id AND c.organization_id = r.organization_id
	WHERE r.organization_id = ? AND r.metric IN ('received', 'unsubscribed')
	ORDER BY c.title_key, c.id, ci.position, ci.id`

// Unsubscribes returns, for every item of an organization's courses that
// was sent, the learners who received it and who unsubscribed after it,
// by course title and item position.
func (q *Queries) Unsubscribes(ctx context.Context, orgID int64) ([]ItemUnsubscribes, error) {
	rs, err := q.query(ctx, unsubscribesQuery, orgID)
	if err != nil {
		return nil, fmt.Errorf("unsubscribes of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []ItemUnsubscribes
	for rs.Next() {
		var (
			it     ItemUnsubscribes
			metric string
			n      int
		)
		if err := rs.Scan(&it.CourseID, &it.CourseTitle, &it.ContentID, &it.ContentTitle, &metric, &n); err != nil {
			return nil, fmt.Errorf("unsubscribes of organization %d: %w", orgID, err)
		}
		if len(list) == 0 || list[len(list)-1].ContentID != it.ContentID {
			list = append(list, it)
		}
		last := &list[len(list)-1]
		if metric == "received" {
			last.Received = n
		} else {
			last.Unsubscribed = n
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("unsubscribes of organization %d: %w", orgID, err)
	}
	return list, nil
}
