package learning_test

import (
	"testing"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
)

// scored builds a quiz question with id id whose answers have ids
// id*10+1, id*10+2, ...; marks says which are correct ('x') or not ('.').
func scored(id int64, marks string) store.QuizQuestion {
	q := store.QuizQuestion{ID: id}
	for i, m := range marks {
		q.Answers = append(q.Answers, store.QuizAnswer{ID: id*10 + int64(i) + 1, Correct: m == 'x'})
	}
	return q
}

func TestScoreQuiz(t *testing.T) {
	one := []store.QuizQuestion{scored(1, "x...")}       // one correct of four
	multi := []store.QuizQuestion{scored(1, "xx.")}      // two correct of three
	allCorrect := []store.QuizQuestion{scored(1, "xxx")} // no wrong answers
	two := []store.QuizQuestion{scored(1, "x.."), scored(2, "x.")}
	three := []store.QuizQuestion{scored(1, "x."), scored(2, "x."), scored(3, "x.")}
	eight := make([]store.QuizQuestion, 8)
	for i := range eight {
		eight[i] = scored(int64(i+1), "xx")
	}
	tests := []struct {
		name      string
		questions []store.QuizQuestion
		chosen    map[int64][]int64
		want      int
	}{
		{"all right", two, map[int64][]int64{1: {11}, 2: {21}}, 100},
		{"nothing chosen", two, nil, 0},
		{"empty choices", two, map[int64][]int64{1: {}, 2: {}}, 0},
		{"all wrong", two, map[int64][]int64{1: {12, 13}, 2: {22}}, 0},
		{"one wrong pick next to the right one: 1 − 1/3", one, map[int64][]int64{1: {11, 12}}, 67},
		{"two wrong picks next to the right one: 1 − 2/3", one, map[int64][]int64{1: {11, 12, 13}}, 33},
		{"every answer picked earns nothing", one, map[int64][]int64{1: {11, 12, 13, 14}}, 0},
		{"never below zero: 0 − 1/3 is 0", one, map[int64][]int64{1: {12}}, 0},
		{"a negative question does not pull the others down", two, map[int64][]int64{1: {12, 13}, 2: {21}}, 50},
		{"multi-correct: one of two", multi, map[int64][]int64{1: {11}}, 50},
		{"multi-correct: both", multi, map[int64][]int64{1: {11, 12}}, 100},
		{"multi-correct: one right, one wrong: 1/2 − 1", multi, map[int64][]int64{1: {11, 13}}, 0},
		{"multi-correct: both right, one wrong", multi, map[int64][]int64{1: {11, 12, 13}}, 0},
		{"all answers correct: no penalty term", allCorrect, map[int64][]int64{1: {11, 13}}, 67},
		{"mean over questions: 1 + 0.5 of 2", two, map[int64][]int64{1: {11, 12}, 2: {21}}, 75},
		{"rounded to the nearest: 2/3", three, map[int64][]int64{1: {11}, 2: {21}}, 67},
		{"rounded to the nearest: 1/3", three, map[int64][]int64{1: {11}}, 33},
		{"halves round up: 12.5", eight, map[int64][]int64{1: {11, 12}}, 13},
		{"halves round up: 6.25 + 6.25", eight, map[int64][]int64{1: {11}, 2: {21}}, 13},
		{"an answer chosen twice counts once", one, map[int64][]int64{1: {11, 11}}, 100},
		{"ids of other questions are ignored", two, map[int64][]int64{1: {21}, 2: {21}}, 50},
		{"ids of unknown questions are ignored", two, map[int64][]int64{1: {11}, 2: {21}, 3: {31}}, 100},
		{"no questions", nil, nil, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := learning.ScoreQuiz(tt.questions, tt.chosen); got != tt.want {
				t.Errorf("ScoreQuiz = %d, want %d", got, tt.want)
			}
		})
	}
}
