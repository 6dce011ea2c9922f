//go:build !race

package learning_test

const raceSlowdown = 1
