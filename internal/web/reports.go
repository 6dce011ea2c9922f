package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/mailschool/mailschool/internal/chart"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
)

type reportsPage struct {
	learning.Reports
	Statuses []string
	Activity activityView
}

// activityView is the organization's activity over the chosen range, as
// the Reports page shows it.
type activityView struct {
	learning.Activity
	Ranges  []int // the ranges offered, in days
	Chosen  int
	Chart   template.HTML
	Metrics []string
	Changes []change // by metric: the total and the change against the range before
}

type change struct {
	Label           string
	Total, Previous int
}

// Delta is the total's change against the previous range, signed.
func (c change) Delta() string { return fmt.Sprintf("%+d", c.Total-c.Previous) }

// Percent is the change in percent, or "" when the previous range had
// none to compare with.
func (c change) Percent() string {
	if c.Previous == 0 {
		return ""
	}
	return fmt.Sprintf("%+.0f%%", 100*float64(c.Total-c.Previous)/float64(c.Previous))
}

var activityLabels = map[string]string{"started": "Started", "confirmed": "Confirmed", "completed": "Completed", "unsubscribed": "Unsubscribed"}

// chosenRange reads ?days= (one of learning.ReportRanges, 30 by default).
func chosenRange(r *http.Request) int {
	days, _ := strconv.Atoi(r.URL.Query().Get("days"))
	for _, d := range learning.ReportRanges {
		if d == days {
			return d
		}
	}
	return learning.ReportRanges[0]
}

func dayLabels(days int, at func(int) time.Time) []string {
	labels := make([]string, days)
	for i := range labels {
		labels[i] = at(i).Format("Jan 2")
	}
	return labels
}

func (s *Server) reports(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	rep, err := s.learning.Reports(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	days := chosenRange(r)
	act, err := s.learning.Activity(r.Context(), currentUser(r.Context()), id, learning.LastDays(days, time.Now()))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	view := activityView{Activity: act, Ranges: learning.ReportRanges, Chosen: days}
	c := chart.Chart{ID: "activity", Kind: chart.Lines,
		Title:  fmt.Sprintf("Enrollments per day, last %d days", days),
		Desc:   "Enrollments started, confirmed, completed and unsubscribed on each day (UTC); the table below gives the numbers.",
		Labels: dayLabels(len(act.Days), func(i int) time.Time { return act.Days[i].Day })}
	for m, metric := range learning.ActivityMetrics {
		values := make([]int, len(act.Days))
		for i, d := range act.Days {
			values[i] = d.Counts[m]
		}
		c.Series = append(c.Series, chart.Series{Name: activityLabels[metric], Values: values})
		view.Metrics = append(view.Metrics, activityLabels[metric])
		view.Changes = append(view.Changes, change{Label: activityLabels[metric], Total: act.Totals[m], Previous: act.Previous[m]})
	}
	view.Chart = c.SVG()
	s.render(w, r, http.StatusOK, "reports.html", "Reports of "+rep.Name, reportsPage{Reports: rep, Statuses: learning.EnrollmentStatuses, Activity: view})
}

// courseReportPage is a course's funnel and quiz statistics.
type courseReportPage struct {
	learning.CourseFunnel
	FunnelChart template.HTML
	Quizzes     []quizView
}

type quizView struct {
	learning.FunnelItem
	Chart  template.HTML
	Labels []string // of the score histogram
}

var scoreLabels = []string{"0–9", "10–19", "20–29", "30–39", "40–49", "50–59", "60–69", "70–79", "80–89", "90–100"}

func (s *Server) courseReport(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := orgAndID(r, "course_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	f, err := s.learning.CourseFunnel(r.Context(), currentUser(r.Context()), orgID, courseID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	page := courseReportPage{CourseFunnel: f}
	funnel := chart.Chart{ID: "funnel", Kind: chart.Bars, Title: "Learners at each step of " + f.Course.Title,
		Desc: "How many learners received each item, and answered and passed each quiz, in the course's order; the table below gives the numbers."}
	values := make([]int, len(f.Steps))
	for i, st := range f.Steps {
		funnel.Labels = append(funnel.Labels, strconv.Itoa(i+1))
		values[i] = st.Learners
	}
	funnel.Series = []chart.Series{{Name: "Learners", Values: values}}
	page.FunnelChart = funnel.SVG()
	for _, it := range f.Items {
		if it.Quiz == nil {
			continue
		}
		hist := chart.Chart{ID: fmt.Sprintf("scores-%d", it.ID), Kind: chart.Bars, Title: "Scores of " + it.Title,
			Desc:   "How many answers scored in each tenth of the range from 0 to 100; the table beside gives the numbers.",
			Labels: scoreLabels, Series: []chart.Series{{Name: "Answers", Values: it.Quiz.Scores[:]}}}
		page.Quizzes = append(page.Quizzes, quizView{FunnelItem: it, Chart: hist.SVG(), Labels: scoreLabels})
	}
	s.render(w, r, http.StatusOK, "course_report.html", "Report of "+f.Course.Title, page)
}

// emailReportPage is the organization's emails over the chosen range.
type emailReportPage struct {
	learning.Activity
	Ranges []int
	Chosen int
	Chart  template.HTML
	Kinds  []mailKindRow
	Items  []learning.CourseUnsubscribes
}

type mailKindRow struct {
	learning.MailKindCounts
	Label string
}

func (s *Server) emailReport(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	days := chosenRange(r)
	act, err := s.learning.Activity(r.Context(), currentUser(r.Context()), id, learning.LastDays(days, time.Now()))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	items, err := s.learning.Unsubscribes(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	page := emailReportPage{Activity: act, Ranges: learning.ReportRanges, Chosen: days, Items: items}
	c := chart.Chart{ID: "emails", Kind: chart.Bars, Title: fmt.Sprintf("Emails per day, last %d days", days),
		Desc:   "Emails sent, failed for good and tried again on each day (UTC); the table below gives the numbers.",
		Labels: dayLabels(len(act.MailDays), func(i int) time.Time { return act.MailDays[i].Day })}
	sent, failed, retried := make([]int, len(act.MailDays)), make([]int, len(act.MailDays)), make([]int, len(act.MailDays))
	for i, d := range act.MailDays {
		sent[i], failed[i], retried[i] = d.Sent, d.Failed, d.Retried
	}
	c.Series = []chart.Series{{Name: "Sent", Values: sent}, {Name: "Failed", Values: failed}, {Name: "Retried", Values: retried}}
	page.Chart = c.SVG()
	for _, k := range act.MailKinds {
		page.Kinds = append(page.Kinds, mailKindRow{MailKindCounts: k, Label: mail.KindLabel(k.Kind)})
	}
	s.render(w, r, http.StatusOK, "email_report.html", "Email report of "+act.Name, page)
}
