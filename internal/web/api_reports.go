package web

import (
	"net/http"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
)

// activityJSON is the per-day series of the reports API.
type activityJSON struct {
	From           string             `json:"from"`
	To             string             `json:"to"`
	Days           []activityDayJSON  `json:"days"`
	Totals         activityCountsJSON `json:"totals"`
	PreviousTotals activityCountsJSON `json:"previous_totals"`
	Emails         []emailDayJSON     `json:"emails"`
	EmailsByKind   []emailKindJSON    `json:"emails_by_kind"`
}

type activityCountsJSON struct {
	Started      int `json:"started"`
	Confirmed    int `json:"confirmed"`
	Completed    int `json:"completed"`
	Unsubscribed int `json:"unsubscribed"`
}

type activityDayJSON struct {
	Day string `json:"day"`
	activityCountsJSON
}

type emailDayJSON struct {
	Day        string `json:"day"`
	Sent       int    `json:"sent"`
	Failed     int    `json:"failed"`
	Retried    int    `json:"retried"`
	Bounced    int    `json:"bounced"`
	Complaints int    `json:"complaints"`
}

type emailKindJSON struct {
	Kind    string `json:"kind"`
	Sent    int    `json:"sent"`
	Failed  int    `json:"failed"`
	Retried int    `json:"retried"`
}

// activityCounts reads counts by learning.ActivityMetrics.
func activityCounts(c []int) activityCountsJSON {
	return activityCountsJSON{Started: c[0], Confirmed: c[1], Completed: c[2], Unsubscribed: c[3]}
}

func toActivityJSON(a learning.Activity) activityJSON {
	j := activityJSON{From: store.ReportDay(a.Range.From), To: store.ReportDay(a.Range.To),
		Totals: activityCounts(a.Totals), PreviousTotals: activityCounts(a.Previous),
		Days: make([]activityDayJSON, 0, len(a.Days)), Emails: make([]emailDayJSON, 0, len(a.MailDays)), EmailsByKind: []emailKindJSON{}}
	for _, d := range a.Days {
		j.Days = append(j.Days, activityDayJSON{Day: store.ReportDay(d.Day), activityCountsJSON: activityCounts(d.Counts)})
	}
	for _, d := range a.MailDays {
		j.Emails = append(j.Emails, emailDayJSON{Day: store.ReportDay(d.Day), Sent: d.Sent, Failed: d.Failed, Retried: d.Retried,
			Bounced: d.Bounced, Complaints: d.Complaints})
	}
	for _, k := range a.MailKinds {
		j.EmailsByKind = append(j.EmailsByKind, emailKindJSON{Kind: k.Kind, Sent: k.Sent, Failed: k.Failed, Retried: k.Retried})
	}
	return j
}

// courseFunnelJSON is the course report of the API: the funnel and the
// quiz statistics.
type courseFunnelJSON struct {
	CourseID    int64            `json:"course_id"`
	Title       string           `json:"title"`
	Items       []funnelItemJSON `json:"items"`
	Steps       []funnelStepJSON `json:"steps"`
	BiggestLoss string           `json:"biggest_loss"`
}

type funnelItemJSON struct {
	ContentID    int64          `json:"content_id"`
	Kind         string         `json:"kind"`
	Title        string         `json:"title"`
	Position     int            `json:"position"`
	Received     int            `json:"received"`
	Answered     int            `json:"answered"`
	Passed       int            `json:"passed"`
	Failed       int            `json:"failed"`
	Unsubscribed int            `json:"unsubscribed"`
	Quiz         *quizStatsJSON `json:"quiz"`
}

type quizStatsJSON struct {
	Attempts  int                 `json:"attempts"`
	Passed    int                 `json:"passed"`
	PassRate  *float64            `json:"pass_rate"`
	Scores    []int               `json:"score_histogram"`
	MostWrong []wrongQuestionJSON `json:"most_wrong"`
}

type wrongQuestionJSON struct {
	QuestionID int64  `json:"question_id"`
	Text       string `json:"text"`
	Wrong      int    `json:"wrong"`
}

type funnelStepJSON struct {
	Label     string `json:"label"`
	ContentID int64  `json:"content_id"`
	Learners  int    `json:"learners"`
}

func (s *Server) apiCourseReport(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, err := orgAndID(r, "course_id")
	if err != nil {
		return err
	}
	f, err := s.learning.CourseFunnel(r.Context(), currentUser(r.Context()), orgID, courseID)
	if err != nil {
		return err
	}
	out := courseFunnelJSON{CourseID: f.Course.ID, Title: f.Course.Title, Items: []funnelItemJSON{}, Steps: []funnelStepJSON{}, BiggestLoss: f.Loss}
	for _, it := range f.Items {
		j := funnelItemJSON{ContentID: it.ID, Kind: it.Kind, Title: it.Title, Position: it.Position, Received: it.Received,
			Answered: it.Answered, Passed: it.Passed, Failed: it.Failed, Unsubscribed: it.Unsubscribed}
		if it.Quiz != nil {
			q := &quizStatsJSON{Attempts: it.Quiz.Attempts, Passed: it.Quiz.Passed, Scores: it.Quiz.Scores[:], MostWrong: []wrongQuestionJSON{}}
			if it.Quiz.Attempts > 0 {
				rate := it.Quiz.PassRate() / 100
				q.PassRate = &rate
			}
			for _, wq := range it.Quiz.Wrong {
				q.MostWrong = append(q.MostWrong, wrongQuestionJSON{QuestionID: wq.QuestionID, Text: wq.Text, Wrong: wq.Wrong})
			}
			j.Quiz = q
		}
		out.Items = append(out.Items, j)
	}
	for _, st := range f.Steps {
		out.Steps = append(out.Steps, funnelStepJSON{Label: st.Label, ContentID: st.ContentID, Learners: st.Learners})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// reportRange reads the reports API's from and to (YYYY-MM-DD).
func reportRange(r *http.Request) (learning.ReportRange, error) {
	return learning.ParseReportRange(r.URL.Query().Get("from"), r.URL.Query().Get("to"), time.Now())
}
