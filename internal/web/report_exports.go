package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/mailschool/mailschool/internal/store"
)

// reportExportHeader names the columns of an organization report's file:
// the per-day series of the reports API, enrollments then emails.
var reportExportHeader = []string{"day", "started", "confirmed", "completed", "unsubscribed", "sent", "failed", "retried"}

// apiExportReport answers the organization report's per-day series over
// the range of ?from= and ?to=, as the reports API reads them.
func (s *Server) apiExportReport(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	query := r.URL.Query()
	act, err := s.learning.ActivityBetween(r.Context(), currentUser(r.Context()), id, query.Get("from"), query.Get("to"), time.Now())
	if err != nil {
		return err
	}
	s.streamCSV(w, r, exportFilename(act.Slug, "report", time.Now()), reportExportHeader,
		func(_ context.Context, write func(...string) error) error {
			cells := make([]string, 0, len(reportExportHeader))
			for i, d := range act.Days {
				counts := activityCounts(d.Counts)
				mail := act.MailDays[i]
				cells = append(cells[:0], store.ReportDay(d.Day),
					csvInt(counts.Started), csvInt(counts.Confirmed), csvInt(counts.Completed), csvInt(counts.Unsubscribed),
					csvInt(mail.Sent), csvInt(mail.Failed), csvInt(mail.Retried))
				if err := write(cells...); err != nil {
					return err
				}
			}
			return nil
		})
	return nil
}

// courseReportExportHeader names the columns of a course report's file:
// its items in order, with the funnel's and the quizzes' numbers.
var courseReportExportHeader = []string{"position", "title", "kind", "received", "answered", "passed", "failed",
	"unsubscribed", "attempts", "pass_rate"}

// apiExportCourseReport answers a course report's items. attempts and
// pass_rate are empty for a lesson, and pass_rate for a quiz nobody
// answered; the rate is from 0 to 1, as in the API.
func (s *Server) apiExportCourseReport(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, err := orgAndID(r, "course_id")
	if err != nil {
		return err
	}
	f, err := s.learning.CourseFunnel(r.Context(), currentUser(r.Context()), orgID, courseID)
	if err != nil {
		return err
	}
	s.streamCSV(w, r, exportFilename(f.Org.Slug, f.Course.Slug+"-report", time.Now()), courseReportExportHeader,
		func(_ context.Context, write func(...string) error) error {
			for _, it := range f.Items {
				attempts, rate := "", ""
				if it.Quiz != nil {
					attempts = csvInt(it.Quiz.Attempts)
					if it.Quiz.Attempts > 0 {
						rate = strconv.FormatFloat(it.Quiz.PassRate()/100, 'f', -1, 64)
					}
				}
				if err := write(csvInt(it.Position), it.Title, it.Kind, csvInt(it.Received), csvInt(it.Answered),
					csvInt(it.Passed), csvInt(it.Failed), csvInt(it.Unsubscribed), attempts, rate); err != nil {
					return err
				}
			}
			return nil
		})
	return nil
}
