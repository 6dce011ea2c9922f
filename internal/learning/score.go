package learning

import (
	"math"

	"github.com/mailschool/mailschool/internal/store"
)

// ScoreQuiz scores the answers chosen to a quiz's questions (answer ids
// by question id) from 0 to 100. Each question may have several correct
// answers, and the learner picks any number of answers. Per question:
//
//	correct chosen / correct answers − wrong chosen / wrong answers
//
// floored at 0. Finding every correct answer earns the question's whole
// point, each one a share of it; each wrong pick costs a share of the
// point as large as one wrong answer is of all the wrong ones, so picking
// every answer earns nothing. A question whose answers are all correct
// has no penalty term. The score is the mean over the questions, times
// 100, rounded to the nearest whole number (halves up): a pass is a score
// at or above the quiz's required score.
//
// Ids that are not answers of the question are ignored here (the caller
// refuses them before), and an answer chosen twice counts once. A quiz
// without questions scores 100: there was nothing to get wrong.
func ScoreQuiz(questions []store.QuizQuestion, chosen map[int64][]int64) int {
	if len(questions) == 0 {
		return 100
	}
	var sum float64
	for _, q := range questions {
		picked := map[int64]bool{}
		for _, id := range chosen[q.ID] {
			picked[id] = true
		}
		var correct, wrong, correctChosen, wrongChosen int
		for _, a := range q.Answers {
			switch {
			case a.Correct:
				correct++
				if picked[a.ID] {
					correctChosen++
				}
			default:
				wrong++
				if picked[a.ID] {
					wrongChosen++
				}
			}
		}
		var credit float64
		if correct > 0 {
			credit = float64(correctChosen) / float64(correct)
		}
		if wrong > 0 {
			credit -= float64(wrongChosen) / float64(wrong)
		}
		sum += max(credit, 0)
	}
	// The small epsilon keeps a mean that is a half in exact arithmetic
	// (0.125 of 8 questions) from rounding down for a last bit of float.
	return int(math.Floor(100*sum/float64(len(questions)) + 0.5 + 1e-9))
}
