package learning_test

import (
	"testing"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
)

func TestQuizSummary(t *testing.T) {
	var e learning.ExportedEnrollment
	if a, p, n, mean := e.QuizSummary(); a != 0 || p != 0 || n != 0 || mean != nil {
		t.Errorf("no quiz answered: %d %d %d %v", a, p, n, mean)
	}
	e.Quizzes = []store.QuizResult{
		{ContentID: 1, BestScore: 90, Attempts: 2, Passed: true},
		{ContentID: 2, BestScore: 45, Attempts: 1},
	}
	a, p, n, mean := e.QuizSummary()
	// (90 + 45) / 2 = 67.5, rounded half up.
	if a != 2 || p != 1 || n != 3 || mean == nil || *mean != 68 {
		t.Errorf("got answered %d, passed %d, attempts %d, mean %v", a, p, n, *mean)
	}
}
