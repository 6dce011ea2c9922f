//go:build race

package learning_test

// raceSlowdown is how much slower the race detector makes the renderer.
const raceSlowdown = 10
